"""torchvision's side of `benchmarks/torchvision_parity.py`, run by a Python that has torch and
torchvision (never emorec's environment): a model with random weights (batch-norm statistics
too), its state dict saved by `torch.save` in the zip and the legacy format, and its forward
pass on the given faces.

    TORCH_PYTHON benchmarks/torchvision_reference.py MODEL FACES.npy OUT_DIR
"""
import sys

import numpy as np
import torch
import torchvision

KINETICS = ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))  # torchvision's video transforms


def main(name: str, faces_path: str, out: str) -> None:
    torch.manual_seed(0)
    model = {"r3d": torchvision.models.video.r3d_18}[name]()
    for module in model.modules():  # running statistics away from 0 and 1, so that they count
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    torch.save(model.state_dict(), f"{out}/{name}.pth")
    torch.save(model.state_dict(), f"{out}/{name}_legacy.pth", _use_new_zipfile_serialization=False)
    faces = torch.from_numpy(np.load(faces_path)).float() / 255  # [B, T, H, W, C] uint8
    mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in KINETICS)
    x = (faces.permute(0, 4, 1, 2, 3) - mean) / std
    model.fc = torch.nn.Identity()  # the encoder's output: the pooled features before the classifier
    with torch.no_grad():
        np.save(f"{out}/{name}_features.npy", model(x).numpy())
    print(torch.__version__, torchvision.__version__)


if __name__ == "__main__":
    main(*sys.argv[1:])
