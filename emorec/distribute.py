"""Choosing a tf.distribute strategy: one device up to multi-worker and TPU."""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """TensorFlow's multi-worker strategy, with a `reduce` that Keras 3's `fit` can use.

    Keras 3 (keras-team/keras#20585) reduces a whole batch, a dict of inputs and the
    labels, in one call, which the strategy takes one value at a time; and it reduces each
    step's scalar loss and metrics over `axis=0`, which a scalar does not have. This reduces
    nested structures value by value, and scalars over replicas alone.
    """

    def reduce(self, reduce_op, value, axis):
        reduce_one = super().reduce

        def one(v):
            sample = v.values[0] if isinstance(v, tf.distribute.DistributedValues) else v
            scalar = getattr(sample, "shape", None) is not None and sample.shape.rank == 0
            return reduce_one(reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def choose(name: str = "auto", tpu: str | None = None) -> str:
    """auto: TPU when `tpu` is given, multi-worker when TF_CONFIG names a cluster, mirrored
    when several GPUs are visible, else one device."""
    if name != "auto":
        return name
    if tpu:
        return "tpu"
    if json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster"):
        return "multi_worker"
    return "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "one_device"


def strategy(name: str = "auto", tpu: str | None = None) -> tf.distribute.Strategy:
    name = choose(name, tpu)
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker":
        return MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")


def is_chief() -> bool:
    """The worker that writes checkpoints, logs and exports: the chief, else worker 0, and
    always the only process on one machine."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task")
    if not task or task["type"] == "chief":
        return True
    return task["type"] == "worker" and task["index"] == 0 and "chief" not in config.get("cluster", {})
