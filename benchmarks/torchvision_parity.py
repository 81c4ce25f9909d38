"""emorec's video encoders on torchvision's checkpoints against torchvision's own forward pass.

    .venv/bin/python -m benchmarks.torchvision_parity --torch_python=/path/to/venv/bin/python

torch stays out of emorec's environment: --torch_python is any Python with torch and
torchvision (`python -m venv v && v/bin/pip install torch torchvision`). It writes a model with
random weights in both of `torch.save`'s formats and its output on the same faces
(`benchmarks/torchvision_reference.py`); emorec loads each file through `weights=` and runs
the same faces. The error is relative to torchvision's largest absolute output.
"""
from __future__ import annotations

import subprocess
import tempfile
import time

from absl import app, flags

import emorec  # noqa: F401  (sets TensorFlow's CPU options before it loads)
import numpy as np

from benchmarks.common import ROOT, print_table
from emorec import models

_TORCH_PYTHON = flags.DEFINE_string("torch_python", None, "A Python with torch and torchvision.", required=True)
_MODELS = flags.DEFINE_list("models", ["r3d", "mvitv2"], "Encoders to check.")

ENCODERS = {"r3d": ("r3d_18", 112), "mvitv2": ("mvit_v2_s", 224)}  # torchvision's name, the size it takes
FRAMES = 16


def main(argv):
    del argv
    rows, versions = [], ""
    with tempfile.TemporaryDirectory() as out:
        for name in _MODELS.value:
            described, size = ENCODERS[name]
            faces = np.random.default_rng(0).integers(0, 256, (2, FRAMES, size, size, 3), dtype=np.uint8)
            np.save(f"{out}/faces.npy", faces)
            versions = subprocess.run([_TORCH_PYTHON.value, str(ROOT / "benchmarks" / "torchvision_reference.py"), name,
                                       f"{out}/faces.npy", out], check=True, capture_output=True, text=True).stdout.strip()
            reference = np.load(f"{out}/{name}_features.npy")
            for form in ("", "_legacy"):
                start = time.perf_counter()
                encoder = models.VIDEO_ENCODERS[name](frames=FRAMES, image_size=size, weights=f"{out}/{name}{form}.pth")
                seconds = time.perf_counter() - start
                ours = np.asarray(encoder(faces, training=False))
                error = np.abs(ours - reference).max() / np.abs(reference).max()
                rows.append([described, f"{FRAMES}x{size}x{size}", "legacy" if form else "zip",
                             str(len(encoder.weights)), f"{seconds:.1f}", f"{error:.2e}"])
    print_table(f"`python -m benchmarks.torchvision_parity`: random weights (batch-norm statistics, layer norms and "
                f"position tables too), 2 clips of random faces; torch/torchvision {versions}",
                ["model", "input", "torch.save format", "Keras weights set", "load s", "max relative error"], rows)


if __name__ == "__main__":
    app.run(main)
