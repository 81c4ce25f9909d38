"""Streaming prediction speed on a 1280x720 29.97 fps clip (12 s), face detection included.

    .venv/bin/python -m benchmarks.streaming

Frames per second processed (decode, detection, crop, model: everything emorec-predict does
but writing files), latency per prediction (from the frame that completes a window to its
prediction; median and 95th percentile), and where the time goes, for each mode and model.
Models are untrained copies of the default architectures (speed does not depend on weights).
"""
from __future__ import annotations

import os
import pathlib
import platform
import sys

from absl import app, flags

import emorec  # noqa: F401  (sets TensorFlow's CPU options before it loads)
import numpy as np

from benchmarks.common import ROOT, hd_clip, print_table
from emorec import export, models, ravdess, serving
from emorec.inference import Predictor, open_file, run_stream

# name: (registry name, build options): the demo's small fusion, and a video-only model.
MODELS = {
    "demo fusion (small CNN + BiLSTM, 64 px; log-mel CNN)": (
        "resnet_lstm+mel_cnn2d", dict(frames=16, image_size=64, backbone="small_cnn", lstm_units=64)),
    "mvitv2_tiny (video only, 112 px)": ("mvitv2_tiny", dict(frames=16, image_size=112)),
    "whisper_base (audio only, 128-frame windows)": ("whisper_base", dict(frames=128, whisper_weights=None)),
}
_WORKDIR = flags.DEFINE_string("workdir", str(ROOT / "benchmarks" / "out" / "streaming"), "Scratch folder.")


def measure(model_path: str, clip: str, mode: str) -> list:
    model = serving.LocalModel(model_path)
    source = open_file(clip)
    predictor = Predictor(model, serving.read_class_names(model), mode, waveform=source.waveform)
    result = run_stream(predictor, source.frames)
    total, latencies = result["seconds"], result["latencies"]
    split = {"decode": result["decode"], **predictor.seconds}
    return [f"{result['frames'] / total:.0f}", f"{np.median(latencies) * 1000:.0f}",
            f"{np.percentile(latencies, 95) * 1000:.0f}", str(predictor.predictions),
            ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in split.items())]


def main(argv):
    del argv
    workdir = pathlib.Path(_WORKDIR.value)
    clip, origin = hd_clip(workdir, loops=3)
    rows = []
    for label, (name, options) in MODELS.items():
        path = os.path.join(workdir, "models", name.replace("+", "_"), "1")
        if not os.path.exists(path):
            export.export(models.build(name, **options), str(workdir / "models"), name.replace("+", "_"),
                          ravdess.EMOTIONS, version=1)
        for mode in ("queue", "per-frame"):
            measure(path, str(clip), mode)  # warm-up: graph loading and tracing
            rows.append([label, mode, *measure(path, str(clip), mode)])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(f"`python -m benchmarks.streaming`: 360 frames of 1280x720 H.264 at 29.97 fps with 48 kHz audio "
                f"({origin}), decoded to 640x360; windows of 16 frames (whisper_base: 128), queue mode predicting every W/2; "
                f"{os.cpu_count()} cores, {platform.machine()}",
                ["model", "mode", "frames/s", "latency median ms", "latency p95 ms", "predictions", "time split"], rows)


if __name__ == "__main__":
    app.run(main)
