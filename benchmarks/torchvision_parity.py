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
_FRAMES = flags.DEFINE_integer("frames", 16, "Frames per clip.")
_SIZE = flags.DEFINE_integer("image_size", 112, "Face size.")

ENCODERS = {"r3d": "r3d_18 (Kinetics-400 architecture)"}


def main(argv):
    del argv
    rows = []
    versions = ""
    faces = np.random.default_rng(0).integers(0, 256, (2, _FRAMES.value, _SIZE.value, _SIZE.value, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as out:
        np.save(f"{out}/faces.npy", faces)
        for name, described in ENCODERS.items():
            versions = subprocess.run([_TORCH_PYTHON.value, str(ROOT / "benchmarks" / "torchvision_reference.py"), name,
                                       f"{out}/faces.npy", out], check=True, capture_output=True, text=True).stdout.strip()
            reference = np.load(f"{out}/{name}_features.npy")
            for form in ("", "_legacy"):
                start = time.perf_counter()
                encoder = models.VIDEO_ENCODERS[name](frames=_FRAMES.value, image_size=_SIZE.value,
                                                      weights=f"{out}/{name}{form}.pth")
                seconds = time.perf_counter() - start
                ours = np.asarray(encoder(faces, training=False))
                error = np.abs(ours - reference).max() / np.abs(reference).max()
                rows.append([described, "legacy" if form else "zip", str(len(encoder.weights)), f"{seconds:.1f}",
                             f"{error:.2e}"])
    print_table(f"`python -m benchmarks.torchvision_parity`: random weights, 2 clips of {_FRAMES.value} random "
                f"{_SIZE.value} px faces; torch/torchvision {versions}",
                ["model", "torch.save format", "Keras weights set", "load s", "max relative error"], rows)


if __name__ == "__main__":
    app.run(main)
