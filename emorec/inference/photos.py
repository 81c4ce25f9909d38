"""Still photos: every face the detector finds, each predicted as a one-frame video's face is."""

from __future__ import annotations

import numpy as np

from emorec.inference.predictor import Predictor
from emorec.inference.sources import Frame, Photo
from emorec.media import faces


def find_faces(frame: Frame, pipeline: faces.FacePipeline) -> list[tuple[float, float, float]]:
    """Every face the pipeline's detector finds, as squares (cx, cy, side) in the frame's pixels,
    left to right. A video's frame keeps its largest face (`faces.detect`); a photo keeps all."""
    boxes = faces.pipeline_detector(pipeline)(frame.image)
    return sorted((faces.square(box) for box in boxes), key=lambda box: box[0])


def predict_face(model, class_names, frame: Frame, box, pipeline: faces.FacePipeline, mode: str = "queue") -> dict:
    """The predictor's row for the face at `box`, found ahead as a file's faces are: its crop,
    the window an input shorter than a window gets (that crop repeated), the model's answer."""
    found = np.ones(1, bool)
    predictor = Predictor(
        model, class_names, mode, pipeline=pipeline, tracked=(np.array([box], np.float32), found, found)
    )
    [row] = predictor.push(frame) + predictor.flush()
    return row


def photo_box(box, scale: float, size: tuple[int, int]) -> list[int]:
    """A square (cx, cy, side) in the frame's pixels as (x, y, w, h) in the photo's (`scale`
    photo pixels a frame pixel), the part of it inside the photo (`size`: width, height)."""
    cx, cy, side = (value * scale for value in box)
    x0, y0 = max(cx - side / 2, 0), max(cy - side / 2, 0)
    x1, y1 = min(cx + side / 2, size[0]), min(cy + side / 2, size[1])
    return [round(x0), round(y0), round(x1) - round(x0), round(y1) - round(y0)]


def predict(model, class_names, photo: Photo, pipeline: faces.FacePipeline, mode: str = "queue") -> list[dict]:
    """A row per face, left to right: its number, its box in the photo's pixels, the
    probabilities and the top label. No face: no row."""
    height, width = photo.image.shape[:2]
    scale = width / photo.frame.image.shape[1]
    rows = []
    for number, box in enumerate(find_faces(photo.frame, pipeline), 1):
        row = predict_face(model, class_names, photo.frame, box, pipeline, mode)
        rows.append(
            {
                "face": number,
                "box": photo_box(box, scale, (width, height)),
                "probabilities": row["probabilities"],
                "label": row["label"],
            }
        )
    return rows
