"""SavedModel export in TF Serving's layout: `<export_dir>/<name>/<version>/`.

`serving_default` takes what a client has, `faces` uint8 [batch, frames, H, W, 3] and/or
`waveform` float32 [batch, samples] of 16 kHz audio (the model computes its log-mel in its
own graph, with the function the dataset builder used), and returns `probabilities`
[batch, classes] and `labels` [batch] (per-frame models: [batch, frames, classes] and
[batch, frames]), labels being class names, and `class_names` [batch, classes] (the same
row for every example, so that a client of TF Serving, REST or gRPC, learns the classes from
the model itself, and row-format requests still see one batch dimension); a model that takes
faces also returns `face_pipeline` [batch], the JSON of the face pipeline its training crops
came from. A speaker-normalised model also exports
`speaker_features` (waveform -> the features whose per-speaker mean and std it takes as
`speaker_stats`): the enrolment of a speaker at serving, computed as in training.
"""
from __future__ import annotations

import json
import os

import tensorflow as tf

from emorec import models
from emorec.serving import SIGNATURE, SPEAKER_FEATURES, WAVEFORM_LIMIT, WAVEFORM_MEANING


class _Serving(tf.Module):
    def __init__(self, model, class_names, face_pipeline: dict | None):
        super().__init__()
        self.model = model
        self.class_names = tf.constant(list(class_names))
        # The crops the model trained on, for clients of TF Serving (which serves no file but the graph).
        self.face_pipeline = tf.constant(json.dumps(face_pipeline)) if face_pipeline else None

    def __call__(self, inputs):
        if "waveform" in inputs:  # also for requests that reach TF Serving without emorec's client checks
            waveform = tf.debugging.assert_all_finite(inputs["waveform"], "waveform: NaN or infinite samples")
            tf.debugging.assert_less_equal(tf.reduce_max(tf.abs(waveform)), WAVEFORM_LIMIT,
                                           f"waveform: expected {WAVEFORM_MEANING}")
            inputs = {**inputs, "waveform": waveform}
        probabilities = self.model(inputs, training=False)
        labels = tf.gather(self.class_names, tf.argmax(probabilities, axis=-1))
        batch = tf.shape(probabilities)[0]
        outputs = {"probabilities": probabilities, "labels": labels,
                   "class_names": tf.tile(self.class_names[None], [batch, 1])}
        if self.face_pipeline is not None:
            outputs["face_pipeline"] = tf.fill([batch], self.face_pipeline)
        return outputs


def signature_specs(model) -> dict:
    return {t.name: tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name) for t in model.inputs}


def latest_version(base: str) -> int | None:
    """The newest numbered version under saved_models/<name>, None if there is none."""
    existing = [int(v.strip("/")) for v in tf.io.gfile.listdir(base) if v.strip("/").isdigit()] \
        if tf.io.gfile.exists(base) else []
    return max(existing, default=None)


def next_version(base: str) -> int:
    return (latest_version(base) or 0) + 1


def export(model, export_dir: str, name: str, class_names, version: int | None = None,
           metadata: dict | None = None) -> str:
    """Writes the SavedModel and returns its path; the version defaults to one past the newest."""
    classes = model.outputs[0].shape[-1]
    if len(class_names) != classes:
        raise ValueError(f"{len(class_names)} class names {list(class_names)} for a model with {classes} outputs")
    base = os.path.join(export_dir, name)
    version = version or next_version(base)
    path = os.path.join(base, str(version))
    module = _Serving(model, class_names, (metadata or {}).get("face_pipeline") if "faces" in
                      {t.name for t in model.inputs} else None)
    specs = signature_specs(model)
    signatures = {SIGNATURE: tf.function(lambda **inputs: module(inputs)).get_concrete_function(**specs)}
    enrol = models.speaker_features(model)
    if enrol is not None:
        # Enrolment: a speaker's statistics are the mean and std of these over their recordings.
        module.speaker_features = enrol
        waveform = tf.TensorSpec((None, *enrol.inputs[0].shape[1:]), tf.float32, name="waveform")
        signatures[SPEAKER_FEATURES] = tf.function(
            lambda waveform: {"features": enrol(waveform, training=False)}).get_concrete_function(waveform)
    tf.saved_model.save(module, path, signatures=signatures)
    info = {"name": name, "version": version, "class_names": list(class_names),
            "per_frame": len(model.outputs[0].shape) == 3,
            "inputs": {k: [s.shape.as_list(), s.dtype.name] for k, s in specs.items()}, **(metadata or {})}
    # TF Serving ignores extra files: a record for people and tools beside the graph (clients
    # read the classes and the face pipeline from the graph's own outputs).
    with tf.io.gfile.GFile(os.path.join(path, "emorec.json"), "w") as f:
        json.dump(info, f, indent=1)
    return path
