"""Per model: parameters, FLOPs per clip, training step and inference time per clip.

    .venv/bin/python -m benchmarks.models [--models=r3d,mel_cnn2d,trainers/configs/whisper_base.cfg]
        [--frames=16] [--image_size=112]

A model is a registry name (NAME@BACKBONE picks a frame backbone) or a training config,
measured with the config's model, frames and options.

FLOPs are TensorFlow's profiler count for one clip's forward pass (multiply and add
counted separately). Times are wall-clock means over --steps runs after one warm-up, on
whatever this machine is; the table says which.
"""
from __future__ import annotations

import os
import pathlib
import platform
import sys
import time

from absl import app, flags

import emorec  # noqa: F401  (sets TensorFlow's CPU options before it loads)
import numpy as np
import tensorflow as tf
import keras

from benchmarks.common import print_table, read_config
from emorec import models

DEFAULT_MODELS = ["resnet_lstm", "resnet_transformer", "r3d", "mvitv2", "mvitv2_tiny", "wave_cnn1d",
                  "mel_cnn2d", "mvitv2+wave_cnn1d", "per_frame", "av_transformer",
                  "resnet_lstm@small_cnn", "resnet_lstm@fer", "trainers/configs/whisper_base.cfg"]
_MODELS = flags.DEFINE_list("models", DEFAULT_MODELS, "Names or training configs to measure; NAME@BACKBONE picks a "
                            "frame backbone.")
_FRAMES = flags.DEFINE_integer("frames", 16, "Window length in frames.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 112, "Face size.")
_BATCH = flags.DEFINE_integer("batch", 4, "Clips per training step.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed repetitions.")


def _inputs(model, batch):
    rng = np.random.default_rng(0)
    def one(t):
        shape = (batch, *t.shape[1:])
        if "int" in str(t.dtype):
            return rng.integers(0, 256, shape).astype("uint8")
        values = rng.standard_normal(shape)
        # speaker_stats: a mean and a positive spread per mel band
        return (values if t.name != "speaker_stats" else np.abs(values) + 1).astype("float32")
    return {t.name: one(t) for t in model.inputs}


def flops_per_clip(model) -> float:
    specs = {t.name: tf.TensorSpec((1, *t.shape[1:]), t.dtype) for t in model.inputs}
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def _timed(fn, steps):
    fn()  # warm-up: tracing and compilation
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def measure(spec: str, frames: int, image_size: int, batch: int, steps: int) -> list:
    if spec.endswith(".cfg"):
        name, config_frames, options = read_config(spec)
        frames = config_frames or frames
        label = f"{name} as {pathlib.Path(spec).name} ({frames} frames)"
    else:
        name, _, backbone = spec.partition("@")
        options, label = {"backbone": backbone} if backbone else {}, spec
    if name.split("+")[-1] in models.whisper_checkpoints.PRESETS:
        options["whisper_weights"] = None  # time does not depend on weights, and the packages need not be installed
    model = models.build(name, num_classes=8, frames=frames, image_size=image_size, **options)
    params = model.count_params()
    flops = flops_per_clip(model)
    # As trainers.train compiles by default: no XLA (Keras' "auto" would use it here).
    model.compile(keras.optimizers.AdamW(1e-4), "sparse_categorical_crossentropy", jit_compile=False)
    x = _inputs(model, batch)
    y = np.zeros((batch, frames) if name == "per_frame" else (batch,), np.int32)
    train = _timed(lambda: model.train_on_batch(x, y), steps) / batch
    one = _inputs(model, 1)
    infer = tf.function(lambda x: model(x, training=False))
    predict = _timed(lambda: infer(one)[0].numpy(), steps)
    return [label, f"{params / 1e6:.2f} M", f"{flops / 1e9:.1f}", f"{train * 1000:.0f}", f"{predict * 1000:.0f}"]


def main(argv):
    del argv
    rows = []
    for spec in _MODELS.value:
        rows.append(measure(spec, _FRAMES.value, _IMAGE_SIZE.value, _BATCH.value, _STEPS.value))
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(f"`{' '.join(['python -m benchmarks.models'] + sys.argv[1:])}` on {platform.machine()}, "
                f"{os.cpu_count()} cores, TF {tf.__version__}; {_FRAMES.value} frames x {_IMAGE_SIZE.value}x"
                f"{_IMAGE_SIZE.value} faces + their audio, batch {_BATCH.value}, mean of {_STEPS.value} steps",
                ["model", "parameters", "GFLOPs per clip (forward)", "training ms per clip", "inference ms per clip"],
                rows)


if __name__ == "__main__":
    app.run(main)
