"""torchvision's side of `benchmarks/torchvision_parity.py`, run by a Python that has torch and
torchvision (never emorec's environment): a model with random weights (batch-norm statistics
too), its state dict saved by `torch.save` in the zip and the legacy format, and its forward
pass on the given faces; with CHECKPOINT, that checkpoint's weights instead of random ones.

    TORCH_PYTHON benchmarks/torchvision_reference.py MODEL FACES.npy OUT_DIR [CHECKPOINT]
"""

import sys

import numpy as np
import torch
import torchvision

# Each checkpoint's transforms in torchvision.
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
STATS = {
    "r3d": ((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)),
    "mvitv2": ((0.45,) * 3, (0.225,) * 3),
    "resnet50": IMAGENET,
    "mobilenet_v2": IMAGENET,
}
MODELS = {
    "r3d": torchvision.models.video.r3d_18,
    "mvitv2": torchvision.models.video.mvit_v2_s,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
}
# The classifier each encoder's output is taken before.
HEADS = {"r3d": "fc", "mvitv2": "head", "resnet50": "fc", "mobilenet_v2": "classifier"}


def main(name: str, faces_path: str, out: str, checkpoint: str = "") -> None:
    torch.manual_seed(0)
    model = MODELS[name]()
    if checkpoint:
        model.load_state_dict(torch.load(checkpoint))
    else:
        _randomise(model)
    model.eval()
    torch.save(model.state_dict(), f"{out}/{name}.pth")
    torch.save(model.state_dict(), f"{out}/{name}_legacy.pth", _use_new_zipfile_serialization=False)
    faces = torch.from_numpy(np.load(faces_path)).float() / 255  # [B, (T,) H, W, C] uint8
    channels_first = (0, 4, 1, 2, 3) if faces.dim() == 5 else (0, 3, 1, 2)
    mean, std = (torch.tensor(v).view(1, 3, *[1] * (faces.dim() - 2)) for v in STATS[name])
    x = (faces.permute(*channels_first) - mean) / std
    # The encoder's output: the pooled features (the CNNs), the class token after the norm (mvitv2).
    setattr(model, HEADS[name], torch.nn.Identity())
    with torch.no_grad():
        np.save(f"{out}/{name}_features.npy", model(x).numpy())
    print(torch.__version__, torchvision.__version__)


def _randomise(model) -> None:
    """Statistics, norms and tables away from their starting values."""
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
        if isinstance(module, torch.nn.LayerNorm):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    for key, value in model.named_parameters():
        if "rel_pos" in key or "class_token" in key:
            value.data.normal_(0, 0.5)


if __name__ == "__main__":
    main(*sys.argv[1:])
