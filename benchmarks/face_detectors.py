"""Face detectors side by side on real faces: OpenCV's Haar cascade (as the builder runs it)
against MediaPipe's BlazeFace short-range model (from the mediapipe wheel, in TensorFlow's
TFLite interpreter).

    .venv/bin/python -m benchmarks.face_detectors

On the 24 RAVDESS actor stills, every frame of the 14 original actor-05 clips (decoded as
the builder decodes them) and every frame of the six CREMA-D clips: the share of images
with a face found, box stability between consecutive frames where both found one (how far
the centre moves and the side changes, over the side; median and 95th percentile), and
milliseconds per frame (detection alone).
"""

from __future__ import annotations

import os
import platform
import time

import cv2
import numpy as np
from absl import app

from benchmarks.common import SHARED, print_table
from emorec.media import faces, video


def _sets() -> dict[str, list[np.ndarray]]:
    """{name: [frames of one clip or still, ...] per item}."""
    pipeline = faces.FacePipeline()
    stills = [
        [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)]
        for p in sorted((SHARED / "ravdess" / "actor_stills").glob("*.png"))
    ]
    originals = [
        video.decode(str(p), with_audio=False, max_width=pipeline.decode_width, skip_deblocking=pipeline.fast_decode)[
            "frames"
        ]
        for p in sorted((SHARED / "ravdess" / "video_actor_05").glob("*.mp4"))
    ]
    crema = [
        video.decode(str(p), with_audio=False, max_width=pipeline.decode_width)["frames"]
        for p in sorted((SHARED / "crema-d").glob("*.flv"))
    ]
    return {"24 actor stills": stills, "14 RAVDESS originals (actor 05)": originals, "6 CREMA-D clips": crema}


def measure(detector, clips: list[np.ndarray]) -> list[str]:
    found, moves, resizes, seconds, count = 0, [], [], 0.0, 0
    for frames in clips:
        previous = None
        for frame in frames:
            start = time.perf_counter()
            box = faces.largest(detector(frame))
            seconds += time.perf_counter() - start
            count += 1
            if box is None:
                previous = None
                continue
            found += 1
            x, y, w, h = box
            current = np.array([x + w / 2, y + h / 2, max(w, h)])
            if previous is not None:
                moves.append(np.hypot(*(current[:2] - previous[:2])) / previous[2])
                resizes.append(abs(current[2] - previous[2]) / previous[2])
            previous = current
    stability = (
        (
            f"{np.median(moves):.3f} / {np.percentile(moves, 95):.3f}",
            f"{np.median(resizes):.3f} / {np.percentile(resizes, 95):.3f}",
        )
        if moves
        else ("", "")
    )
    return [f"{found} of {count} ({found / count:.1%})", *stability, f"{1000 * seconds / count:.1f}"]


def main(argv):
    del argv
    pipeline = faces.FacePipeline()
    detectors = {
        f"Haar (OpenCV {cv2.__version__}, {pipeline.detect_width} px wide)": faces.HaarDetector(
            pipeline.detect_width, pipeline.min_face
        ),
        "BlazeFace short-range (mediapipe 0.10.21, 128 px)": faces.BlazeFaceDetector(),
    }
    rows = []
    for name, clips in _sets().items():
        for label, detector in detectors.items():
            rows.append([name, label, *measure(detector, clips)])
    print_table(
        f"`python -m benchmarks.face_detectors`: frames decoded as the builder decodes them (480 px wide); "
        f"{os.cpu_count()} cores, {platform.machine()}",
        [
            "images",
            "detector",
            "face found",
            "centre move / side (median / p95)",
            "side change / side (median / p95)",
            "ms per frame",
        ],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
