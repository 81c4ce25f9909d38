"""Streaming prediction: frames in, timeline rows out.

- queue: a buffer of the last W face crops and the audio under them; a prediction every
  `stride` frames, optionally smoothed over time (exponential moving average).
- per-frame: one row for every frame, from a per-frame model (non-overlapping windows, one
  prediction per frame each) or, for a clip-level model, from the window ending at that
  frame (sliding windows, batched).

The model is anything with `signature` and `predict(inputs)`: `emorec.serving.LocalModel`
or `emorec.serving.ServingClient`. Faces are found and cropped by `emorec.media.faces`, the
code the dataset builder uses.
"""

from __future__ import annotations

import collections
import time

import numpy as np

from emorec import enrolment
from emorec.errors import UserError
from emorec.inference.sources import Frame
from emorec.media import faces, features
from emorec.media.features import FPS, SAMPLE_RATE


class Predictor:
    def __init__(
        self,
        model,
        class_names,
        mode: str = "queue",
        stride: int | None = None,
        smoothing: float = 0.0,
        waveform: np.ndarray | None = None,
        detect_every: int = 2,
        batch: int = 8,
        source_name: str = "the input",
        speaker: enrolment.SpeakerState | None = None,
        adapt: bool = True,
        pipeline: faces.FacePipeline | None = None,
        tracked=None,
    ):
        if mode not in ("queue", "per-frame"):
            raise ValueError(f"mode must be 'queue' or 'per-frame', got {mode!r}")
        self.model, self.class_names, self.mode = model, list(class_names), mode
        signature = model.signature
        self.uses_faces, self.uses_audio = "faces" in signature, "waveform" in signature
        if self.uses_audio and waveform is None:
            kind = "audio-visual" if self.uses_faces else "audio"
            raise UserError(
                f"{source_name} has no audio, and this {kind} model takes `waveform`: use a "
                "video-only model (one trained with a video encoder alone, e.g. --model=r3d or "
                "--model=resnet_lstm on --config=video)"
            )
        if self.uses_faces:
            _, self.window, self.size, _, _ = signature["faces"].shape
        else:
            self.window, self.size = None, None
        self.samples = signature["waveform"].shape[1] if self.uses_audio else None
        if self.window is None:  # audio-only: windows of the same duration on the frame clock
            self.window = features.window_frames(self.samples, FPS)
        self.stride = stride or (max(self.window // 2, 1) if mode == "queue" else 1)
        self.smoothing, self.waveform, self.batch = smoothing, waveform, batch
        # The crops the model trained on: the export's face pipeline (crop side, margin,
        # detector: `checks.read_export_info`); online, the detector runs more often than
        # the builder's, as there is no future frame to interpolate from.
        self.pipeline = pipeline or faces.FacePipeline()
        # A speaker-normalised model's speaker: `speaker` (an enrolment, or what earlier inputs of
        # the same speaker taught), else nothing heard yet for a model with a prior of the training
        # speakers, else (a model without one) the input's whole audio. A model with a prior
        # adapts as it goes (`adapt`): each window's speaker features join the statistics the
        # next prediction uses.
        self.speaker, self.adapt = None, False
        if "speaker_stats" in signature:
            prior = "speaker_windows" in signature
            self.speaker = speaker or (
                enrolment.SpeakerState(signature["speaker_stats"].shape[2:])
                if prior
                else enrolment.enrol(model, [waveform])
            )
            self.adapt = adapt and prior
        # A file's boxes found ahead over the whole clip, as the builder finds them
        # (`faces.track`'s result); otherwise online tracking, as a stream needs (the detector
        # is loaded only then: an audio-only model needs none).
        self.tracked = tracked
        self.tracker = (
            faces.OnlineTracker(faces.pipeline_detector(self.pipeline), every=detect_every)
            if self.uses_faces and tracked is None
            else None
        )
        self.buffer: collections.deque = collections.deque(maxlen=self.window)
        self.pending: list = []  # windows waiting for a batched prediction (per-frame mode)
        self.smoothed = None
        self.per_frame_model: bool | None = None
        self.seconds = collections.Counter()  # where the time goes: detect, crop, model
        self.predictions = 0
        self.last_row = -1  # the last frame that has a row
        self.box = None  # the face box of the last frame pushed, None without a face

    def _crop(self, frame: Frame):
        start = time.perf_counter()
        if self.tracked is not None:
            boxes, detected, examined = self.tracked
            i = min(frame.index, len(boxes) - 1)
            box, found, looked = boxes[i], bool(detected[i]), bool(examined[i])
        else:
            box, found, looked = self.tracker.update(frame.image)
        self.seconds["detect"] += time.perf_counter() - start
        start = time.perf_counter()
        if box is None:  # no face yet: the centre of the frame, marked as faceless
            h, w = frame.image.shape[:2]
            box_used = (w / 2, h / 2, min(h, w) / self.pipeline.margin)
        else:
            box_used = tuple(box)
        crop = faces.crop(frame.image, box_used, self.pipeline.size, self.pipeline.margin)
        crop = np.asarray(faces.resize_crops(crop[None], self.size)[0])
        self.seconds["crop"] += time.perf_counter() - start
        self.box = box_used if box is not None else None
        return crop, found if looked else None

    def push(self, frame: Frame) -> list[dict]:
        """Rows the frame completes (possibly none)."""
        crop, found = self._crop(frame) if self.uses_faces else (None, None)
        self.buffer.append((frame, crop, found))
        if len(self.buffer) < self.window:
            return []
        window = list(self.buffer)
        if self.mode == "queue":
            if (frame.index - (self.window - 1)) % self.stride:
                return []
            return self._predict([self._window_inputs()], [window])
        if self.per_frame_model is None:  # the first window tells whether the model is per-frame
            return self._predict([self._window_inputs()], [window])
        if self.per_frame_model:  # W frames at a time, windows side by side
            return [] if (frame.index + 1) % self.window else self._predict([self._window_inputs()], [window])
        self.pending.append((self._window_inputs(), window))
        return self._predict_pending() if len(self.pending) >= self.batch else []

    def flush(self) -> list[dict]:
        """Rows still owed at the end of the input."""
        if self.pending:
            return self._predict_pending()
        if not self.predictions and self.buffer:
            # An input shorter than one window gets the one padded window training and
            # evaluation give such a clip (its last face repeated, silence after its audio).
            return self._predict([self._window_inputs()], [list(self.buffer)])
        if self.mode == "per-frame" and self.per_frame_model and self.buffer[-1][0].index > self.last_row:
            # The frames after the last full window, from the window of the last W frames.
            return self._predict([self._window_inputs()], [list(self.buffer)])
        return []

    def _window_inputs(self) -> dict:
        inputs = {}
        if self.uses_faces:
            crops = [crop for _, crop, _ in self.buffer]
            inputs["faces"] = np.stack(crops + crops[-1:] * (self.window - len(crops)))
        if self.uses_audio:
            start = int(round(self.buffer[0][0].time * SAMPLE_RATE))
            piece = self.waveform[start : start + self.samples]
            inputs["waveform"] = np.pad(piece, (0, self.samples - len(piece))).astype(np.float32)
        if self.speaker is not None:
            inputs.update(self.speaker.inputs(self.model.signature))
        return inputs

    def _predict_pending(self):
        inputs, windows = zip(*self.pending)
        self.pending = []
        return self._predict(list(inputs), list(windows))

    def _predict(self, inputs: list[dict], windows: list[list]) -> list[dict]:
        batch = {key: np.stack([x[key] for x in inputs]) for key in inputs[0]}
        start = time.perf_counter()
        outputs = self.model.predict(batch)
        probabilities = np.asarray(outputs["probabilities"])
        if self.adapt:
            self.speaker.add(
                outputs["speaker_features"]
                if "speaker_features" in outputs
                else self.model.speaker_features(batch["waveform"])
            )
        self.seconds["model"] += time.perf_counter() - start
        self.predictions += len(inputs)
        if self.per_frame_model is None:
            self.per_frame_model = probabilities.ndim == 3
        rows = []
        for p, window in zip(probabilities, windows):
            if self.mode == "queue":
                p = p.mean(0) if p.ndim == 2 else p
                if self.smoothing:
                    self.smoothed = (
                        p if self.smoothed is None else self.smoothing * self.smoothed + (1 - self.smoothing) * p
                    )
                    p = self.smoothed
                rows.append(self._row(window[-1][0], p, [found for _, _, found in window]))
            elif p.ndim == 2:  # a per-frame model: a row for each frame of the window not yet covered
                rows += [
                    self._row(frame, q, [found])
                    for (frame, _, found), q in zip(window, p)
                    if frame.index > self.last_row
                ]
            else:  # sliding windows: the window ends at its frame; the first also covers those before
                frames = window if window[0][0].index == 0 else window[-1:]
                rows += [self._row(frame, p, [found]) for frame, _, found in frames]
        return rows

    def _row(self, frame: Frame, probabilities, found) -> dict:
        examined = [f for f in found if f is not None]
        self.last_row = max(self.last_row, frame.index)
        return {
            "time": round(float(frame.time), 4),
            "frame": frame.index,
            "probabilities": {c: round(float(v), 5) for c, v in zip(self.class_names, probabilities)},
            "label": self.class_names[int(np.argmax(probabilities))],
            "face": (any(examined) if examined else None) if self.uses_faces else None,
        }


def run_stream(predictor: Predictor, frames, max_frames: int | None = None, on_frame=None, on_rows=None) -> dict:
    """Feeds frames through `predictor` until they end (or `max_frames`, or Ctrl-C: how a
    camera run is ended, so the rows so far are kept and `stopped` says so).

    `on_frame(frame, last_row)` is called after each frame (for drawing, progress) and
    `on_rows(rows)` with each new batch of rows (to write them as they come). Returns the
    rows, the frame count, the seconds taken, the seconds spent waiting for frames
    (decoding) and each prediction's latency (from the frame that completed its window).
    """
    rows, latencies, decode, count, last, stopped = [], [], 0.0, 0, None, False
    iterator = iter(frames)
    start = time.perf_counter()
    try:
        while max_frames is None or count < max_frames:
            tick = time.perf_counter()
            frame = next(iterator, None)
            decode += time.perf_counter() - tick
            if frame is None:
                break
            count += 1
            tick = time.perf_counter()
            new = predictor.push(frame)
            if new:
                latencies.append(time.perf_counter() - tick)
                rows += new
                last = new[-1]
                if on_rows:
                    on_rows(new)
            if on_frame:
                on_frame(frame, last)
    except KeyboardInterrupt:
        stopped = True
    new = predictor.flush()
    rows += new
    if on_rows and new:
        on_rows(new)
    return {
        "rows": rows,
        "frames": count,
        "seconds": time.perf_counter() - start,
        "decode": decode,
        "latencies": latencies,
        "stopped": stopped,
    }
