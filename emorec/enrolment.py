"""A speaker's statistics: the `speaker_stats` (and `speaker_windows`) inputs of a
speaker-normalised model, computed with the model's own exported `speaker_features` on the
windows training used, so that serving sees the statistics training saw.

Enrolment takes them from other recordings of the speaker (`speaker_stats`); `SpeakerState`
builds them as the speaker's audio comes (a camera session, a long recording, a folder of one
speaker's clips), starting from nothing: a model with a prior (`SpeakerNorm(prior_windows)`)
pools them with the training speakers' until the speaker has said enough.
"""

from __future__ import annotations

import numpy as np

from emorec.clients import Enrolment
from emorec.media.features import FPS, SAMPLE_RATE, speaker_statistics, window_frames
from emorec.signatures import MAX_BATCH

STD_FLOOR = 1e-3  # added to every std, as `speaker_statistics` does


def audio_windows(waveform: np.ndarray, samples: int, fps: float = FPS) -> np.ndarray:
    """[windows, samples]: the evaluation windows `emorec.data.windows.eval_dataset` cuts from an
    audio-only clip (W frames every W / 2 on the video clock, the last padded with silence),
    in the same float32 arithmetic."""
    frames = window_frames(samples, fps)
    seconds = np.float32(len(waveform)) / np.float32(SAMPLE_RATE)
    clip_frames = max(int(seconds * np.float32(fps)), 1)
    windows = []
    for start in range(0, max(clip_frames - frames, 0) + 1, max(frames // 2, 1)):
        offset = int(np.round(np.float32(start) / np.float32(fps) * np.float32(SAMPLE_RATE)))
        piece = np.asarray(waveform[offset : offset + samples], np.float32)
        windows.append(np.pad(piece, (0, samples - len(piece))))
    return np.stack(windows)


class KerasEnrolment(Enrolment):
    """A model's `speaker_features` (Keras) with the interface of an export's enrolment, so
    that the dataset pipeline computes statistics with the very function serving uses."""

    has_speaker_features = True

    def __init__(self, features, feature_dims: int):
        self.features, self.feature_dims = features, feature_dims
        self.speaker_window_samples = features.inputs[0].shape[1]

    def describe(self) -> str:
        return self.features.name

    def _speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        return self.features(waveform, training=False)


def recording_features(model, waveform: np.ndarray) -> np.ndarray:
    """The model's speaker features of one recording: of each of its windows, or of the whole
    recording for a model whose features take any length."""
    window = model.speaker_window_samples
    if not window:
        return model.speaker_features(np.asarray(waveform, np.float32)[None])
    batch = audio_windows(waveform, window)
    return np.concatenate([model.speaker_features(batch[i : i + MAX_BATCH]) for i in range(0, len(batch), MAX_BATCH)])


def enrol(model, waveforms, state: SpeakerState | None = None) -> SpeakerState:
    """`state` (a new one by default) with the features of every window of `waveforms`, one
    speaker's recordings, added: the enrolment a model's `speaker_stats` come from at serving."""
    state = state or SpeakerState(model.signature["speaker_stats"].shape[2:])
    for waveform in waveforms:
        state.add(recording_features(model, waveform))
    return state


def speaker_stats(model, waveforms) -> np.ndarray:
    """float32 [2, *F] from one speaker's 16 kHz waveforms, for `model`: a `serving.LocalModel`
    or `ServingClient` of a speaker-normalised export, or a `KerasEnrolment` in training."""
    return speaker_statistics([recording_features(model, w) for w in waveforms], feature_dims=model.feature_dims)


class SpeakerState:
    """One speaker's statistics as their audio comes: the count, mean and summed squared
    deviations of every feature row heard so far, merged batch by batch (Chan, Golub and
    LeVeque's parallel update, in float64), so that a long session keeps three numbers per
    feature, not its rows. `inputs()` gives what the model takes; with nothing heard yet, zeros
    and 0 windows (a model with a prior then uses the training speakers' statistics alone)."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)  # one feature row, F
        self.count = 0
        self.mean = np.zeros(self.shape)
        self.squares = np.zeros(self.shape)

    def add(self, features: np.ndarray) -> None:
        """Feature rows [..., *F] of the speaker (a batch of windows, or frames of one)."""
        rows = np.asarray(features, np.float64).reshape(-1, *self.shape)
        if not len(rows):
            return
        n, mean = len(rows), rows.mean(0)
        delta, total = mean - self.mean, self.count + n
        self.squares += ((rows - mean) ** 2).sum(0) + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total

    def stats(self) -> np.ndarray:
        """float32 [2, *F], as `speaker_statistics` gives for the same rows (zeros before any)."""
        if not self.count:
            return np.zeros((2, *self.shape), np.float32)
        return np.stack([self.mean, np.sqrt(self.squares / self.count) + STD_FLOOR]).astype(np.float32)

    def inputs(self, signature: dict) -> dict:
        """The speaker inputs `signature` takes: speaker_stats, and speaker_windows if it has them."""
        out = {"speaker_stats": self.stats()}
        if "speaker_windows" in signature:
            out["speaker_windows"] = np.float32(self.count)
        return out
