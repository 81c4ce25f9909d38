"""Choosing a tf.distribute strategy: one device up to multi-worker and TPU."""
from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


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
        return tf.distribute.MultiWorkerMirroredStrategy()
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
