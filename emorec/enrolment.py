"""Speaker enrolment: the `speaker_stats` input of a speaker-normalised model, from other
recordings of the speaker, computed with the model's own exported `speaker_features` on the
windows training used, so that serving sees the statistics training saw."""
from __future__ import annotations

import numpy as np

from emorec import ravdess
from emorec.media.features import SAMPLE_RATE, speaker_statistics, window_frames


def audio_windows(waveform: np.ndarray, samples: int, fps: float = ravdess.FPS) -> np.ndarray:
    """[windows, samples]: the evaluation windows `emorec.data.windows.eval_dataset` cuts from an
    audio-only clip (W frames every W / 2 on the video clock, the last padded with silence),
    in the same float32 arithmetic."""
    frames = window_frames(samples, fps)
    seconds = np.float32(len(waveform)) / np.float32(SAMPLE_RATE)
    clip_frames = max(int(seconds * np.float32(fps)), 1)
    windows = []
    for start in range(0, max(clip_frames - frames, 0) + 1, max(frames // 2, 1)):
        offset = int(np.round(np.float32(start) / np.float32(fps) * np.float32(SAMPLE_RATE)))
        piece = np.asarray(waveform[offset:offset + samples], np.float32)
        windows.append(np.pad(piece, (0, samples - len(piece))))
    return np.stack(windows)


class KerasEnrolment:
    """A model's `speaker_features` (Keras) with the interface of an export's enrolment, so
    that the dataset pipeline computes statistics with the very function serving uses."""

    def __init__(self, features, feature_dims: int):
        self.features, self.feature_dims = features, feature_dims
        self.speaker_window_samples = features.inputs[0].shape[1]

    def speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        return np.asarray(self.features(np.asarray(waveform, np.float32), training=False))


def speaker_stats(model, waveforms) -> np.ndarray:
    """float32 [2, *F] from one speaker's 16 kHz waveforms, for `model`: a `serving.LocalModel`
    or `ServingClient` of a speaker-normalised export, or a `KerasEnrolment` in training."""
    feature_dims = (model.feature_dims if isinstance(model, KerasEnrolment)
                    else len(model.signature["speaker_stats"][0]) - 2)  # (batch, 2, *F)
    window = model.speaker_window_samples
    rows = []
    for waveform in waveforms:
        batch = audio_windows(waveform, window) if window else np.asarray(waveform, np.float32)[None]
        rows.append(model.speaker_features(batch))
    return speaker_statistics(rows, feature_dims=feature_dims)
