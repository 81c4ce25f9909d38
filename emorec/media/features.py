"""The log-mel spectrogram: the one feature function shared by builder, models and serving."""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
# The clock windows are counted in: W frames of video, or W / FPS seconds of audio alone
# (RAVDESS's video rate, which the presets' windows were trained at).
FPS = 30000 / 1001
WINDOW_MS = 25
HOP_MS = 10
NUM_MELS = 64


def log_mel(
    waveform,
    sample_rate: int = SAMPLE_RATE,
    num_mels: int = NUM_MELS,
    window_ms: float = WINDOW_MS,
    hop_ms: float = HOP_MS,
    fmin: float = 20.0,
    fmax: float | None = None,
):
    """float32 waveform [..., samples] -> log-mel [..., ceil(samples / hop), num_mels].

    Frame j starts at j * hop_ms, so mel frames and video frames share one clock: the video
    frame at t seconds lies over mel frame floor(t * 1000 / hop_ms).
    """
    # Imported here so that reading audio never loads TensorFlow: openSMILE's native library
    # aborted (malloc) in a process that had TensorFlow loaded (trainers/baseline.py).
    import tensorflow as tf

    waveform = tf.convert_to_tensor(waveform, tf.float32)
    frame_length = int(round(sample_rate * window_ms / 1000))
    frame_step = int(round(sample_rate * hop_ms / 1000))
    fft_length = 1 << (frame_length - 1).bit_length()
    stft = tf.signal.stft(waveform, frame_length, frame_step, fft_length, pad_end=True)
    power = tf.math.square(tf.abs(stft))
    matrix = _mel_matrix(num_mels, fft_length // 2 + 1, sample_rate, fmin, fmax or sample_rate / 2)
    return tf.math.log(tf.tensordot(power, matrix, 1) + 1e-6)


@functools.cache
def _mel_matrix(num_mels: int, bins: int, sample_rate: int, fmin: float, fmax: float) -> np.ndarray:
    """Made once, eagerly even when log_mel is traced into a graph (which then holds it as a
    constant): made op by op on every call, it was 6 of an eager log-mel's 11 ms."""
    import tensorflow as tf

    with tf.init_scope():
        return tf.signal.linear_to_mel_weight_matrix(num_mels, bins, sample_rate, fmin, fmax).numpy()


def num_mel_frames(samples: int, sample_rate: int = SAMPLE_RATE, hop_ms: float = HOP_MS) -> int:
    step = int(round(sample_rate * hop_ms / 1000))
    return -(-samples // step)


def window_samples(frames: int, fps: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Audio samples that go with a window of `frames` video frames."""
    return int(round(frames * sample_rate / fps))


def window_frames(samples: int, fps: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Video frames a window of `samples` audio samples spans (the inverse of window_samples)."""
    return int(round(samples * fps / sample_rate))


def speaker_statistics(features, feature_dims: int = 1) -> np.ndarray:
    """Mean and standard deviation of each feature over every row of one speaker's
    recordings: float32 [2, *F], the `speaker_stats` input of speaker-normalised models.
    `features`: arrays [..., *F] whose last `feature_dims` axes are one feature row (log-mels
    [frames, mels]: F = [mels]; a Whisper encoder's pooled layers [windows, layers, 2 * width]:
    feature_dims=2).

    Removing a speaker's own average and range leaves how this utterance departs from that
    speaker's usual voice, which is what carries emotion across speakers. The statistics
    need the speaker's audio only, never labels.
    """
    arrays = [np.asarray(f, np.float32) for f in features]
    if not arrays:
        raise ValueError("speaker_statistics needs at least one recording")
    shape = arrays[0].shape[len(arrays[0].shape) - feature_dims :]
    rows = np.concatenate([a.reshape(-1, *shape) for a in arrays])
    if not len(rows):
        raise ValueError("speaker_statistics needs at least one feature row")
    return np.stack([rows.mean(0), rows.std(0) + 1e-3]).astype(np.float32)
