"""Faces: detect, keep the largest per frame, smooth over time, crop squares.

The default detector is OpenCV's frontal-face Haar cascade (ships with opencv 4.x, works
offline), run on a small grey copy of every `every`-th frame; frames in between, and frames
where it finds nothing, take boxes interpolated from their detected neighbours. The same
code serves the dataset builder and the streaming predictor.
"""
from __future__ import annotations

import dataclasses
import threading

import cv2
import numpy as np

from emorec.media.video import MediaError


@dataclasses.dataclass(frozen=True)
class FacePipeline:
    """Every setting between a video and its face crops, in one place: the dataset builder
    crops with one, records it in the dataset's metadata, the trainer copies it into every
    export's metadata, and `emorec-predict` crops with the export's.

    RAVDESS is frontal close-ups: frames are decoded 480 pixels wide (without H.264's
    deblocking, invisible at face-crop size) and the detector runs on every 6th, 200 pixels
    wide, for faces of at least a fifth of the frame height (benchmarks/build.py measured
    these). The crop is 0.9 times the detector's box, around its centre: brow to chin, the
    face an expression model reads; a wider crop (1.3, the first choice) shows hair and
    background, and a FER2013 model then calls nearly every face neutral
    (benchmarks/face_crops.py measured 0.8-1.3 on the real actor-05 originals).
    """

    size: int = 112  # stored crop side, pixels; models resize to their own input
    margin: float = 0.9  # crop side / the detector's box side
    decode_width: int = 480
    fast_decode: bool = True
    detect_every: int = 6
    detect_width: int = 200
    min_face: float = 0.2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> "FacePipeline":
        """The settings a dataset or export recorded; the defaults for one made before they were recorded."""
        return cls(**values) if values else cls()


class HaarDetector:
    """Boxes (x, y, w, h) in the frame's pixels; detection runs at `detect_width` pixels wide
    (small frames are enlarged: the cascade's smallest face is 24 pixels)."""

    def __init__(self, detect_width: int = 240, min_face: float = 0.15):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV could not load {path}: opencv-python-headless 4.x is needed (5.0 has no cascades)")
        self.detect_width, self.min_face = detect_width, min_face

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = self.detect_width / width
        small = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        side = int(self.min_face * min(grey.shape))
        boxes = self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(side, side))
        return np.asarray(boxes, np.float32).reshape(-1, 4) / scale


_local = threading.local()


def detector_for_thread(detect_width: int = 240, min_face: float = 0.15) -> HaarDetector:
    """One detector per thread and setting: OpenCV's cascade is not shared across threads,
    and loading it costs more than detecting a face."""
    cache = _local.__dict__.setdefault("detectors", {})
    if (detect_width, min_face) not in cache:
        cache[(detect_width, min_face)] = HaarDetector(detect_width, min_face)
    return cache[(detect_width, min_face)]


def largest(boxes: np.ndarray) -> np.ndarray | None:
    return boxes[np.argmax(boxes[:, 2] * boxes[:, 3])] if len(boxes) else None


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < 2:
        return values
    pad = window // 2
    padded = np.pad(values, ((pad, pad), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(values.shape[1])], 1)


def detect(frames, detector=None, every: int = 1) -> tuple[dict, int]:
    """({frame index: (cx, cy, side)} where the detector found a face, frame count): the
    detector on every `every`-th frame and the last. `frames` may be any iterable of
    images, so a file can be scanned frame by frame without holding it in memory."""
    detector = detector or detector_for_thread()
    found, count, last = {}, 0, None
    for i, frame in enumerate(frames):
        count, last = i + 1, frame
        if i % every == 0:
            _add(found, i, detector(frame))
    if count and (count - 1) % every:  # the last frame is always examined
        _add(found, count - 1, detector(last))
    return found, count


def _add(found: dict, index: int, boxes: np.ndarray):
    box = largest(boxes)
    if box is not None:
        x, y, w, h = box
        found[index] = (x + w / 2, y + h / 2, max(w, h))


def interpolate(found: dict, count: int, every: int = 1, smooth: int = 5):
    """`detect`'s boxes over all `count` frames: (boxes float32 [N, 3], detected bool [N],
    examined bool [N]), linear between detections, held at the ends, smoothed over `smooth`
    frames. Raises MediaError('no face') when no frame has a face."""
    examined = np.zeros(count, bool)
    examined[::every] = examined[-1] = True
    if not found:
        raise MediaError("no face", f"no face in any of {examined.sum()} examined frames")
    detected = np.zeros(count, bool)
    keys = np.array(sorted(found))
    detected[keys] = True
    values = np.array([found[k] for k in keys], np.float32)
    boxes = np.stack([np.interp(np.arange(count), keys, values[:, j]) for j in range(3)], 1)
    return _smooth(boxes, smooth).astype(np.float32), detected, examined


def track(frames, detector=None, every: int = 1, smooth: int = 5):
    """Per-frame square face boxes (cx, cy, side) over a clip: `detect`, then `interpolate`.

    Returns (boxes float32 [N, 3], detected bool [N], examined bool [N]). `detected` is True
    where the detector itself found a face, `examined` where it looked; other frames reuse
    their neighbours' boxes. Raises MediaError('no face') when no frame has a face.
    """
    found, count = detect(frames, detector, every)
    return interpolate(found, count, every, smooth)


def crop(frame: np.ndarray, box, size: int, margin: float = FacePipeline.margin) -> np.ndarray:
    """A square crop of side `margin * box side` around the box centre, resized to `size`;
    parts outside the frame repeat its border."""
    cx, cy, side = box
    side *= margin
    scale = size / side
    matrix = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]], np.float32)
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def face_crops(frames, size: int = 112, detector=None, every: int = 1, margin: float = FacePipeline.margin):
    """uint8 crops [N, size, size, 3] and the `track` results (boxes, detected, examined)."""
    boxes, detected, examined = track(frames, detector, every)
    crops = np.stack([crop(f, b, size, margin) for f, b in zip(frames, boxes)])
    return crops, boxes, detected, examined


class OnlineTracker:
    """Face boxes for frames as they arrive (a camera or a stream has no future frames).

    Runs the detector on every `every`-th frame, keeps the largest face, and smooths the box
    exponentially; frames in between, and frames where the detector finds nothing, keep the
    last box. `update` returns (box (cx, cy, side) or None before the first face, whether
    the detector found a face in this frame, whether it looked).
    """

    def __init__(self, detector=None, every: int = 2, smoothing: float = 0.5):
        self.detector = detector or detector_for_thread()
        self.every, self.smoothing = every, smoothing
        self.box, self.count = None, 0

    def update(self, frame: np.ndarray):
        looked = self.count % self.every == 0
        self.count += 1
        found = False
        if looked:
            box = largest(self.detector(frame))
            if box is not None:
                x, y, w, h = box
                new = np.array([x + w / 2, y + h / 2, max(w, h)], np.float32)
                self.box = new if self.box is None else self.smoothing * self.box + (1 - self.smoothing) * new
                found = True
        return self.box, found, looked
