"""The named inputs every model takes, declared once: the data pipeline feeds them by name,
exports sign them, and serving clients send them."""

from __future__ import annotations

import keras

from emorec.media.features import FPS, SAMPLE_RATE, window_samples


def faces(frames: int, image_size: int) -> keras.KerasTensor:
    """A window's face crops, uint8 [batch, frames, S, S, 3]."""
    return keras.Input((frames, image_size, image_size, 3), dtype="uint8", name="faces")


def face(image_size: int) -> keras.KerasTensor:
    """One frame's face crop, uint8 [batch, S, S, 3]: what a per-frame image encoder takes."""
    return keras.Input((image_size, image_size, 3), dtype="uint8", name="face")


def waveform(frames: int | None, fps: float = FPS) -> keras.KerasTensor:
    """A window's 16 kHz audio, float32 [batch, frames / fps seconds] (None: any length)."""
    return waveform_samples(None if frames is None else window_samples(frames, fps, SAMPLE_RATE))


def waveform_samples(samples: int | None) -> keras.KerasTensor:
    return keras.Input((samples,), dtype="float32", name="waveform")


def speaker_stats(shape) -> keras.KerasTensor:
    """The mean and std of a model's speaker features (`shape`: mels, or a tuple) over a speaker's recordings."""
    return keras.Input((2, *((shape,) if isinstance(shape, int) else shape)), dtype="float32", name="speaker_stats")


def speaker_windows() -> keras.KerasTensor:
    """How many windows of the speaker `speaker_stats` come from, float32 [batch] (0: none, a
    speaker not heard yet), for models that pool them with the training speakers' (`SpeakerNorm`)."""
    return keras.Input((), dtype="float32", name="speaker_windows")
