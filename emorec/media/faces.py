"""Faces: detect, keep the largest per frame, smooth over time, crop squares.

The detector (MediaPipe's BlazeFace by default, or OpenCV's Haar cascade; `FacePipeline`
holds the choice) runs on every `every`-th frame; frames in between, and frames where it
finds nothing, take boxes interpolated from their detected neighbours. The same code serves
the dataset builder and the streaming predictor.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import threading

import cv2
import numpy as np

from emorec import litert
from emorec.media.video import MediaError


@dataclasses.dataclass(frozen=True)
class FacePipeline:
    """Every setting between a video and its face crops, in one place: the dataset builder
    crops with one, records it in the dataset's metadata, the trainer copies it into every
    export's metadata, and `emorec-predict` crops with the export's.

    RAVDESS is frontal close-ups: frames are decoded 480 pixels wide (without H.264's
    deblocking, invisible at face-crop size) and the detector runs on every 6th frame, boxes
    interpolated in between (benchmarks/build.py measured these). The detector is MediaPipe's
    BlazeFace short-range model: on the real faces here it finds every face Haar finds, five
    times faster and with steadier boxes (benchmarks/face_detectors.py); OpenCV's Haar
    cascade (`detector='haar'`, run `detect_width` pixels wide for faces of at least
    `min_face` of the frame height) remains. The crop is 0.9 times the detector's box, around
    its centre: brow to chin, the face an expression model reads; a wider crop (1.3, the
    first choice) shows hair and background, and a FER2013 model then calls nearly every
    face neutral (benchmarks/face_crops.py measured margins 0.8-1.4 with both detectors on
    the real actor-05 originals).
    """

    size: int = 112  # stored crop side, pixels; models resize to their own input
    margin: float = 0.9  # crop side / the detector's box side
    detector: str = "blazeface"  # or "haar"
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
            raise RuntimeError(
                f"OpenCV could not load {path}: opencv-python-headless 4.x is needed (5.0 has no cascades)"
            )
        self.detect_width, self.min_face = detect_width, min_face

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = self.detect_width / width
        small = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        side = int(self.min_face * min(grey.shape))
        boxes = self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(side, side))
        return np.asarray(boxes, np.float32).reshape(-1, 4) / scale


BLAZEFACE_INSTALL = "pip install --no-deps mediapipe==0.10.21"


def blazeface_model() -> str:
    """The BlazeFace short-range detector inside the mediapipe wheel, found without
    importing mediapipe (its own dependencies need not be installed)."""
    spec = importlib.util.find_spec("mediapipe")
    path = (
        os.path.join(
            spec.submodule_search_locations[0], "modules", "face_detection", "face_detection_short_range.tflite"
        )
        if spec
        else None
    )
    if not path or not os.path.exists(path):
        raise ModuleNotFoundError(f"the BlazeFace detector ships in the mediapipe wheel: {BLAZEFACE_INSTALL}")
    return path


class BlazeFaceDetector:
    """MediaPipe's BlazeFace short-range model (128x128, 896 SSD anchors) in a TFLite
    interpreter (`emorec.litert`: LiteRT's where installed, so that finding faces starts no
    TensorFlow): boxes (x, y, w, h) in the frame's pixels, brow to chin."""

    def __init__(self, min_score: float = 0.5, path: str | None = None):
        self.interpreter = litert.interpreter(path or blazeface_model())
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        self.regressors, self.scores = outputs["regressors"], outputs["classificators"]
        # Anchor centres: a 16x16 grid with 2 anchors a cell (stride 8), then 8x8 with 6 (stride 16).
        centres = [
            ((x + 0.5) / grid, (y + 0.5) / grid)
            for grid, per in ((16, 2), (8, 6))
            for y in range(grid)
            for x in range(grid)
            for _ in range(per)
        ]
        self.anchors = np.array(centres, np.float32)
        self.min_score = min_score

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = 128 / max(height, width)
        small = _shrink(frame, (round(width * scale), round(height * scale)))
        top, left = (128 - small.shape[0]) // 2, (128 - small.shape[1]) // 2  # letterboxed, as trained
        canvas = np.zeros((1, 128, 128, 3), np.float32)
        canvas[0, top : top + small.shape[0], left : left + small.shape[1]] = small.astype(np.float32) / 127.5 - 1
        self.interpreter.set_tensor(self.input, canvas)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.regressors)[0]
        score = 0.5 * (1 + np.tanh(self.interpreter.get_tensor(self.scores)[0, :, 0] / 2))  # a sigmoid
        keep = score >= self.min_score
        if not keep.any():
            return np.zeros((0, 4), np.float32)
        centre = raw[keep, :2] / 128 + self.anchors[keep]
        size = raw[keep, 2:4] / 128
        boxes = np.concatenate([centre - size / 2, size], 1) * 128
        boxes[:, :2] -= (left, top)
        boxes /= scale
        chosen = cv2.dnn.NMSBoxes(boxes.tolist(), score[keep].tolist(), self.min_score, 0.3)
        return boxes[np.asarray(chosen, int).ravel()].astype(np.float32)


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` resized down to `size` (width, height): by a whole factor with INTER_AREA
    (OpenCV's fast path for it), the rest linearly. Within 0.5/255 of INTER_AREA straight to
    `size`, at a tenth of its 0.6 ms for a 480-pixel frame."""
    factor = min(image.shape[1] // size[0], image.shape[0] // size[1])
    if factor < 2:
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    half = cv2.resize(image, (image.shape[1] // factor, image.shape[0] // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(half, size, interpolation=cv2.INTER_LINEAR)


_local = threading.local()


def detector_for_thread(kind: str, detect_width: int, min_face: float):
    """One detector per thread and setting: neither OpenCV's cascade nor a TFLite
    interpreter is shared across threads, and loading one costs more than detecting a face."""
    if kind not in ("haar", "blazeface"):
        raise ValueError(f"face detector {kind!r}: 'haar' or 'blazeface'")
    cache = _local.__dict__.setdefault("detectors", {})
    key = (kind, detect_width, min_face)
    if key not in cache:
        cache[key] = HaarDetector(detect_width, min_face) if kind == "haar" else BlazeFaceDetector()
    return cache[key]


def pipeline_detector(pipeline: FacePipeline = FacePipeline()):
    """This thread's detector with `pipeline`'s settings (the defaults' when none is given)."""
    return detector_for_thread(pipeline.detector, pipeline.detect_width, pipeline.min_face)


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
    detector = detector or pipeline_detector()
    found, count, last = {}, 0, None
    for i, frame in enumerate(frames):
        count, last = i + 1, frame
        if i % every == 0:
            _add(found, i, detector(frame))
    if count and (count - 1) % every:  # the last frame is always examined
        _add(found, count - 1, detector(last))
    return found, count


def square(box) -> tuple[float, float, float]:
    """A detector's box (x, y, w, h) as the square (cx, cy, side) that faces are cropped from."""
    x, y, w, h = box
    return x + w / 2, y + h / 2, max(w, h)


def _add(found: dict, index: int, boxes: np.ndarray):
    box = largest(boxes)
    if box is not None:
        found[index] = square(box)


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
    return cv2.warpAffine(
        frame,
        matrix,
        (size, size),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def resize_crops(crops, size: int):
    """Stored crops [..., S, S, 3] uint8 to a model's input side, in TensorFlow: the training
    windows and the predictor both resize with this, so a served model sees faces made as its
    training faces were."""
    if crops.shape[-2] == size:  # the shipped presets' crops: no TensorFlow to start for them
        return crops
    import tensorflow as tf  # the builder and the detectors need none of TensorFlow

    return tf.cast(tf.image.resize(crops, (size, size)), tf.uint8)


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
        self.detector = detector or pipeline_detector()
        self.every, self.smoothing = every, smoothing
        self.box, self.count = None, 0

    def update(self, frame: np.ndarray):
        looked = self.count % self.every == 0
        self.count += 1
        found = False
        if looked:
            box = largest(self.detector(frame))
            if box is not None:
                new = np.array(square(box), np.float32)
                self.box = new if self.box is None else self.smoothing * self.box + (1 - self.smoothing) * new
                found = True
        return self.box, found, looked
