"""Streaming prediction speed on a 1280x720 29.97 fps clip (12 s), face detection included.

    .venv/bin/python -m benchmarks.streaming

Frames per second processed (decode, detection, crop, model: everything emorec-predict does
but writing files), latency per prediction (from the frame that completes a window to its
prediction; median and 95th percentile), and where the time goes, for each mode and model.
Models are untrained copies of the default architectures (speed does not depend on weights).
In the same run, on the same clip: fer's own per-frame pipeline (`fer.classes.Video.analyze`
with `fer.FER()`, its detector and mini-Xception on every frame, writing nothing), and the
demo fusion's queue mode as a multiple of its frames/s.
"""

from __future__ import annotations

import os
import pathlib
import platform
import sys
from importlib.metadata import version

from absl import app, flags

import numpy as np

from benchmarks.common import ROOT, hd_clip, print_table, read_config
from emorec import checks, export, models, ravdess, serving
from emorec.inference import Predictor, open_file, run_stream
from emorec.media.faces import FacePipeline

# name: (registry name, build options): the demo's small fusion, and a video-only model.
MODELS = {
    "demo fusion (small CNN + BiLSTM, 64 px; log-mel CNN)": (
        "resnet_lstm+mel_cnn2d",
        dict(frames=16, image_size=64, backbone="small_cnn", lstm_units=64),
    ),
    "mvitv2_tiny (video only, 112 px)": ("mvitv2_tiny", dict(frames=16, image_size=112)),
}
# The kept Whisper configuration, random weights (time does not depend on them).
_WHISPER, _WHISPER_FRAMES, _WHISPER_OPTIONS = read_config("trainers/configs/whisper_base.cfg")
MODELS[f"{_WHISPER} as whisper_base.cfg (audio only, {_WHISPER_FRAMES}-frame windows)"] = (
    _WHISPER,
    dict(frames=_WHISPER_FRAMES, whisper_weights=None, **_WHISPER_OPTIONS),
)
_WORKDIR = flags.DEFINE_string("workdir", str(ROOT / "benchmarks" / "out" / "streaming"), "Scratch folder.")


def measure(model_path: str, clip: str, mode: str) -> list:
    model = serving.LocalModel(model_path)
    source = open_file(clip)
    info = checks.read_export_info(model)
    predictor = Predictor(
        model,
        info["class_names"],
        mode,
        waveform=source.waveform,
        pipeline=FacePipeline.from_dict(info["face_pipeline"]),
    )
    result = run_stream(predictor, source.frames)
    total, latencies = result["seconds"], result["latencies"]
    split = {"decode": result["decode"], **predictor.seconds}
    return [
        f"{result['frames'] / total:.0f}",
        f"{np.median(latencies) * 1000:.0f}",
        f"{np.percentile(latencies, 95) * 1000:.0f}",
        str(predictor.predictions),
        ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in split.items()),
    ]


def measure_fer(clip: str, workdir: pathlib.Path) -> str:
    """fer's per-frame pipeline: frames/s over the clip."""
    import time
    from unittest import mock

    import cv2
    from fer.classes import Video
    from fer.fer import FER

    # fer calls OpenCV's window functions even with display=False; headless OpenCV has none.
    with mock.patch.object(cv2, "waitKey", lambda *_: -1), mock.patch.object(cv2, "destroyAllWindows", lambda: None):
        video = Video(clip, outdir=str(workdir / "fer"))
        start = time.perf_counter()
        frames = Video.analyze(
            video,
            FER(),
            display=False,
            save_frames=False,
            save_video=False,
            annotate_frames=False,
            zip_images=False,
            output="pandas",
        )
        seconds = time.perf_counter() - start
        del video
    return f"{len(frames) / seconds:.1f}"


def main(argv):
    del argv
    workdir = pathlib.Path(_WORKDIR.value)
    clip, origin = hd_clip(workdir, loops=3)
    rows = []
    for label, (name, options) in MODELS.items():
        # Exported afresh: exports made by older versions lack what the predictor now reads.
        path = export.export(
            models.build(name, **options),
            str(workdir / "models"),
            name.replace("+", "_"),
            ravdess.EMOTIONS,
            version=1,
            overwrite=True,
        )
        for mode in ("queue", "per-frame"):
            measure(path, str(clip), mode)  # warm-up: graph loading and tracing
            rows.append([label, mode, *measure(path, str(clip), mode)])
            print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    measure_fer(str(clip), workdir)  # warm-up
    fer = measure_fer(str(clip), workdir)
    rows.append([f"fer {version('fer')} (its detector + mini-Xception)", "per-frame", fer, "", "", "", ""])
    print_table(
        f"`python -m benchmarks.streaming`: 360 frames of 1280x720 H.264 at 29.97 fps with 48 kHz audio "
        f"({origin}), decoded to 640x360; windows of 16 frames (whisper_base: 128), "
        f"queue mode predicting every W/2; {os.cpu_count()} cores, {platform.machine()}",
        ["model", "mode", "frames/s", "latency median ms", "latency p95 ms", "predictions", "time split"],
        rows,
    )
    print(
        f"\nThe demo fusion's queue mode runs {float(rows[0][2]) / float(fer):.1f} times as many frames/s as fer's "
        f"per-frame pipeline on the same clip, in the same run."
    )


if __name__ == "__main__":
    app.run(main)
