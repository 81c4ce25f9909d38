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

# Each checkpoint's transforms in torchvision.
STATS = {"r3d": ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)), "mvitv2": ((0.45,) * 3, (0.225,) * 3)}


def main(name: str, faces_path: str, out: str) -> None:
    torch.manual_seed(0)
    model = {"r3d": torchvision.models.video.r3d_18, "mvitv2": torchvision.models.video.mvit_v2_s}[name]()
    for module in model.modules():  # statistics, norms and tables away from their starting values
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
        if isinstance(module, torch.nn.LayerNorm):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    for key, value in model.named_parameters():
        if "rel_pos" in key or "class_token" in key:
            value.data.normal_(0, 0.5)
    model.eval()
    torch.save(model.state_dict(), f"{out}/{name}.pth")
    torch.save(model.state_dict(), f"{out}/{name}_legacy.pth", _use_new_zipfile_serialization=False)
    faces = torch.from_numpy(np.load(faces_path)).float() / 255  # [B, T, H, W, C] uint8
    mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in STATS[name])
    x = (faces.permute(0, 4, 1, 2, 3) - mean) / std
    # The encoder's output: the pooled features (r3d), the class token after the norm (mvitv2).
    if name == "r3d":
        model.fc = torch.nn.Identity()
    else:
        model.head = torch.nn.Identity()
    with torch.no_grad():
        np.save(f"{out}/{name}_features.npy", model(x).numpy())
    print(torch.__version__, torchvision.__version__)


if __name__ == "__main__":
    main(*sys.argv[1:])
