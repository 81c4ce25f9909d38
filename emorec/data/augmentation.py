"""Training-time augmentation of a window's inputs, stateless: the same seed gives the same
perturbation, so an epoch's windows are a function of (seed, epoch) alone."""

from __future__ import annotations

import tensorflow as tf


def augment(inputs: dict, seed, face_size: int | None = None) -> dict:
    """Faces: flip, brightness, contrast, saturation, then a crop resized to `face_size` (the
    faces' own side by default; the same for every frame of a window): the colour is changed
    at the stored side and the one resize scales to the model's, so a 224-pixel model does
    not pay for colour at 224. Audio: gain, noise at a random SNR, a masked stretch of time and
    a masked band of frequencies (SpecAugment's masks, applied to the waveform so that
    raw-waveform and log-mel models both get them)."""
    seeds = tf.random.experimental.stateless_split(seed, 8)
    out = dict(inputs)
    if "faces" in inputs:
        faces = tf.cast(inputs["faces"], tf.float32) / 255.0
        size = faces.shape[1]
        faces = tf.cond(
            tf.random.stateless_uniform([], seeds[0]) < 0.5, lambda: tf.reverse(faces, axis=[2]), lambda: faces
        )
        faces = faces + tf.random.stateless_uniform([], seeds[3], -0.1, 0.1)
        mean = tf.reduce_mean(faces, axis=[1, 2, 3], keepdims=True)
        faces = (faces - mean) * tf.random.stateless_uniform([], seeds[4], 0.8, 1.2) + mean
        faces = tf.image.adjust_saturation(
            tf.clip_by_value(faces, 0, 1), tf.random.stateless_uniform([], seeds[5], 0.8, 1.2)
        )
        crop = tf.cast(size * tf.random.stateless_uniform([], seeds[1], 0.85, 1.0), tf.int32)
        corner = tf.cast(tf.random.stateless_uniform([2], seeds[2]) * tf.cast(size - crop + 1, tf.float32), tf.int32)
        side = face_size or size
        faces = tf.image.resize(faces[:, corner[0] : corner[0] + crop, corner[1] : corner[1] + crop], (side, side))
        out["faces"] = tf.cast(tf.clip_by_value(faces, 0, 1) * 255.0 + 0.5, tf.uint8)
    if "waveform" in inputs:
        x = inputs["waveform"]
        x = x * tf.pow(10.0, tf.random.stateless_uniform([], seeds[6], -6.0, 6.0) / 20)
        audio_seeds = tf.random.experimental.stateless_split(seeds[7], 4)
        rms = tf.sqrt(tf.reduce_mean(tf.square(x)) + 1e-8)
        snr_db = tf.random.stateless_uniform([], audio_seeds[0], 15.0, 40.0)
        x = x + tf.random.stateless_normal(tf.shape(x), audio_seeds[1]) * rms * tf.pow(10.0, -snr_db / 20)
        n = tf.shape(x)[0]
        length = tf.cast(tf.cast(n, tf.float32) * tf.random.stateless_uniform([], audio_seeds[2], 0.0, 0.1), tf.int32)
        start = tf.random.stateless_uniform([], audio_seeds[2][::-1], 0, tf.maximum(n - length, 1), tf.int32)
        keep = tf.logical_or(tf.range(n) < start, tf.range(n) >= start + length)
        x = x * tf.cast(keep, x.dtype)
        out["waveform"] = mask_frequencies(x, audio_seeds[3])
    return out


def mask_frequencies(x, seed, max_fraction: float = 0.15):
    """Zeroes a random band of up to `max_fraction` of the spectrum of a waveform."""
    n = tf.shape(x)[0]
    spectrum = tf.signal.rfft(x)
    bins = tf.shape(spectrum)[0]
    width = tf.cast(tf.cast(bins, tf.float32) * tf.random.stateless_uniform([], seed, 0.0, max_fraction), tf.int32)
    low = tf.random.stateless_uniform([], seed[::-1], 0, tf.maximum(bins - width, 1), tf.int32)
    index = tf.range(bins)
    keep = tf.cast(tf.logical_or(index < low, index >= low + width), spectrum.dtype)
    return tf.signal.irfft(spectrum * keep, fft_length=[n])
