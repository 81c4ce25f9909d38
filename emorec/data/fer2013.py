"""FER2013's faces as the face pipeline's crops: tf.data pipelines from the decoded arrays
(`corpora.fer2013.load`) to uint8 RGB [size, size, 3] (grey in all three channels) and labels.

Training draws each epoch's order and each face's perturbation from (seed, epoch, index)
alone, so a run resumed at epoch k sees what the uninterrupted run saw from epoch k on.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


def _to_crop(face, size: int):
    """float [48, 48, 1] in [0, 255] -> uint8 [size, size, 3]."""
    face = tf.image.resize(face, (size, size), method="bilinear")
    return tf.cast(tf.clip_by_value(tf.round(tf.tile(face, [1, 1, 3])), 0, 255), tf.uint8)


def perturb(face, seed, max_degrees: float = 10.0, max_scale: float = 0.1, max_shift: float = 0.08):
    """float [H, W, 1] in [0, 255] -> the same face mirrored at random, rotated, scaled and
    shifted a little (edges replicated: a black border is no face's), brighter or darker and of
    more or less contrast: the ways the face pipeline's crops of the same face differ."""
    seeds = tf.random.experimental.stateless_split(seed, 6)
    side = tf.cast(tf.shape(face)[0], tf.float32)
    face = tf.cond(tf.random.stateless_uniform([], seeds[0]) < 0.5, lambda: tf.reverse(face, axis=[1]), lambda: face)
    angle = tf.random.stateless_uniform([], seeds[1], -1.0, 1.0) * max_degrees * math.pi / 180
    scale = 1.0 + tf.random.stateless_uniform([], seeds[2], -max_scale, max_scale)
    shift = tf.random.stateless_uniform([2], seeds[3], -max_shift, max_shift) * side
    # The output pixel (x, y) reads the input at A (x, y) + b: rotation and scale about the centre, then the shift.
    cos, sin, centre = tf.cos(angle) / scale, tf.sin(angle) / scale, (side - 1) / 2
    b = centre - cos * centre + sin * centre + shift[0], centre - sin * centre - cos * centre + shift[1]
    transform = tf.stack([cos, -sin, b[0], sin, cos, b[1], 0.0, 0.0])
    face = tf.raw_ops.ImageProjectiveTransformV3(
        images=face[None],
        transforms=transform[None],
        output_shape=tf.shape(face)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )[0]
    mean = tf.reduce_mean(face)
    face = (face - mean) * tf.random.stateless_uniform([], seeds[4], 0.75, 1.25) + mean
    face = face + tf.random.stateless_uniform([], seeds[5], -0.15, 0.15) * 255
    return tf.clip_by_value(face, 0, 255)


def training(
    faces: np.ndarray,
    labels: np.ndarray,
    size: int,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    augment: bool = True,
    max_scale: float = 0.1,
) -> tf.data.Dataset:
    """Epochs first_epoch..epochs-1 of shuffled, perturbed (face, label) batches, end to end;
    `max_scale`: each face zoomed by a factor in [1 - max_scale, 1 + max_scale]."""
    faces = tf.constant(faces[..., None])
    labels = tf.constant(labels)
    n = len(labels)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([tf.cast(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order).map(lambda i: (e, i))

    def example(e, i):
        face = tf.cast(tf.gather(faces, i), tf.float32)
        if augment:
            face = perturb(face, tf.stack([e * 1_000_003 + seed, tf.cast(i, tf.int64)]), max_scale=max_scale)
        return _to_crop(face, size), tf.gather(labels, i)

    ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)
    return ds.map(example, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def evaluation(faces: np.ndarray, labels: np.ndarray, size: int, batch_size: int) -> tf.data.Dataset:
    """Every face once, unperturbed, in order."""
    ds = tf.data.Dataset.from_tensor_slices((faces[..., None], labels))
    ds = ds.map(lambda f, y: (_to_crop(tf.cast(f, tf.float32), size), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def class_weights(labels: np.ndarray, num_classes: int, power: float = 0.5) -> dict[int, float]:
    """{class: weight} proportional to (1 / its count) ** power, 1 on average over the examples:
    power 1 weighs every class equally (disgust's 436 faces as much as happy's 7,215), 0 not at
    all; 0.5 lifts the rare classes without letting 436 faces dominate the loss."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    weights /= (weights * counts).sum() / counts.sum()
    return {c: float(w) for c, w in enumerate(weights)}
