"""One clip of a corpus -> the features the dataset stores: faces, waveform, log-mel, label."""

from __future__ import annotations

import collections
import concurrent.futures
import os

import cv2
import numpy as np

from emorec import corpora
from emorec.media import faces, features, video
from emorec.media.features import FPS


def clip_example(
    clip: corpora.Clip,
    *,
    with_faces: bool = True,
    with_audio: bool = True,
    pipeline: faces.FacePipeline = faces.FacePipeline(),
) -> dict:
    """Features of one clip of any corpus, or MediaError saying why it cannot be used.

    Faces: one uint8 crop per video frame with its timestamp; the fraction of examined
    frames where a face was found. Audio: the 16 kHz waveform and its log-mel on the same
    clock (mel frame j starts at j * 10 ms, video frame i at timestamps[i]).
    """
    example = {"name": clip.file_name, "label": clip.emotion}
    with video.local_file(clip) as path:
        media = video.decode(
            path,
            with_video=with_faces,
            with_audio=with_audio,
            max_width=pipeline.decode_width,
            skip_deblocking=pipeline.fast_decode,
        )
    if with_faces:
        detector = faces.pipeline_detector(pipeline)
        crops, _, detected, examined = faces.face_crops(
            media["frames"], pipeline.size, detector, pipeline.detect_every, pipeline.margin
        )
        example.update(
            faces=crops,
            timestamps=media["timestamps"].astype(np.float32),
            fps=np.float32(media["fps"]),
            face_detected=detected,
            face_fraction=np.float32(detected[examined].mean()),
        )
    if with_audio:
        if media["waveform"].size == 0:
            raise video.MediaError("no audio stream", f"{example['name']}: the audio stream is empty")
        example.update(waveform=media["waveform"], log_mel=features.log_mel(media["waveform"]).numpy())
    return example


# What a build does with a clip it can read but should not trust blindly (README, "What a
# build keeps and leaves out"). A short clip is kept: evaluation pads it to a window, as it
# does a short input at serving; so is a clip whose face is mostly lost (a head turned
# away): its frames say where the face was found. Silence carries no emotion to learn, and
# faces paired with audio that does not run beside them teach the wrong pairing: those are
# left out.
SHORTEST_SECONDS = 16 / FPS  # one window of the default 16-frame models
FEWEST_FACES = 0.5  # the share of examined frames with a face found
SILENT_DBFS = -60.0  # peak level
LARGEST_AV_GAP_SECONDS = 0.5


def doubts(
    waveform: np.ndarray | None = None,
    video_seconds: float | None = None,
    face_fraction: float | None = None,
    window_seconds: float = SHORTEST_SECONDS,
    noted_padding: float = 0.0,
) -> list[tuple[str, str, bool]]:
    """(reason, detail, kept) for each rule above that a clip breaks: the builder's rules, and
    the notes emorec-predict gives an input (`window_seconds`: its model's window; a short input is
    noted only when padding is more than `noted_padding` of that window)."""
    found = []
    seconds = {}
    if waveform is not None:
        seconds["audio"] = waveform.size / features.SAMPLE_RATE
        peak = float(np.abs(waveform).max(initial=0.0))
        level = 20 * np.log10(max(peak, 1e-12))
        if level < SILENT_DBFS:
            found.append(("silent audio", f"peak {level:.0f} dBFS, under {SILENT_DBFS:.0f}", False))
    if video_seconds is not None:
        seconds["video"] = video_seconds
    if len(seconds) == 2 and abs(seconds["audio"] - seconds["video"]) > LARGEST_AV_GAP_SECONDS:
        found.append(
            (
                "audio and video lengths differ",
                f"audio {seconds['audio']:.2f} s, video {seconds['video']:.2f} s, more than "
                f"{LARGEST_AV_GAP_SECONDS} s apart",
                False,
            )
        )
    if face_fraction is not None and face_fraction < FEWEST_FACES:
        found.append(
            (
                "faces mostly lost",
                f"a face in {face_fraction:.0%} of the examined frames; "
                "the others hold their neighbours' boxes (face_detected says which)",
                True,
            )
        )
    shortest = min(seconds.values(), default=window_seconds)
    if shortest < window_seconds * (1 - noted_padding):
        found.append(
            (
                "short",
                f"{shortest:.2f} s, under one {window_seconds:.2f} s window: "
                f"{1 - shortest / window_seconds:.0%} of it is padding",
                True,
            )
        )
    return found


def map_in_threads(function, items, workers: int | None = None, ahead: int = 4):
    """function(item) for each item, in order, on a thread per core: ffmpeg runs in
    subprocesses and OpenCV releases the GIL, so threads keep every core busy. OpenCV's own
    threads would only compete with them, so it runs single-threaded meanwhile. At most
    `ahead` results per worker wait to be taken, so a slow consumer never holds the whole
    dataset in memory."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    workers = workers or os.cpu_count() or 1
    try:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            items, pending = iter(items), collections.deque()
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) >= ahead * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        cv2.setNumThreads(threads)


def strict() -> bool:
    """EMOREC_STRICT=1: any clip that cannot be used fails the build instead of being reported."""
    return os.environ.get("EMOREC_STRICT") == "1"
