"""SavedModel export in TF Serving's layout: `<export_dir>/<name>/<version>/`.

`serving_default` takes what a client has, `faces` uint8 [batch, frames, H, W, 3] and/or
`waveform` float32 [batch, samples] of 16 kHz audio (the model computes its log-mel in its
own graph, with the function the dataset builder used), and returns `probabilities`
[batch, classes] and `labels` [batch] (per-frame models: [batch, frames, classes] and
[batch, frames]), labels being class names, and `class_names` [batch, classes] (the same
row for every example, so that a client of TF Serving, REST or gRPC, learns the classes from
the model itself, and row-format requests still see one batch dimension); a model that takes
faces also returns `face_pipeline` [batch], the JSON of the face pipeline its training crops
came from. A speaker-normalised model also takes `speaker_stats` (and, with a prior of the
training speakers, `speaker_windows`: how many windows they come from, 0 for a speaker not heard
yet), returns `speaker_features` of the request's audio, and exports a `speaker_features`
signature (waveform -> the features whose per-speaker mean and std it takes as
`speaker_stats`): the enrolment of a speaker at serving, computed as in training, and the
online adaptation to a speaker as their audio comes (`emorec.enrolment`).
"""

from __future__ import annotations

import json
import os
import tempfile

import tensorflow as tf

from emorec.errors import UserError
from emorec.media.features import FPS
from emorec.signatures import MAX_BATCH, NOT_HEARD, RANGES, SIGNATURE, SPEAKER_DEVIATIONS, SPEAKER_FEATURES, shape_text
from emorec.tflite import TFLITE_INFO


class ServingModule(tf.Module):
    """What `serving_default` runs: the model on a request, its outputs named for clients.
    The export signs it, and `serving.KerasModel` runs it in process (presets), so both
    give the same outputs."""

    def __init__(self, model, class_names, face_pipeline: dict | None, checks: bool = True):
        super().__init__()
        self.checks = checks
        self.class_names = tf.constant(list(class_names))
        # The crops the model trained on, for clients of TF Serving (which serves no file but the graph).
        self.face_pipeline = tf.constant(json.dumps(face_pipeline)) if face_pipeline else None
        # A speaker-normalised model also returns its speaker features of the request's audio, so
        # that a client adapts to the speaker as it goes (`emorec.enrolment.SpeakerState`); a
        # frozen encoder runs once for both outputs.
        features = model.speaker_features()
        self._hold(model=model, speaker_features=features, parts=model.frozen_parts() if features is not None else None)

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _hold(self, **keras_objects):
        """Keeps the Keras model and its parts out of the SavedModel's object graph: there,
        TensorFlow also saves each Keras model's own `serving_default`, which calls it with no
        `training` argument; Keras then takes `training` from the first layer called, and a
        Resizing layer's default is True (fer2013_faces), so that an `average` ran its other
        members' dropout in that function, whose seed the object graph does not reach
        ("KeyError: ... captures tensor seed_generator_state ... not reachable from root",
        the default preset). The signatures' variables are saved all the same (`export`)."""
        for name, value in keras_objects.items():
            setattr(self, name, value)

    def __call__(self, inputs):
        if self.checks:
            inputs = checked(inputs, signature_specs(self.model))
        speaker = None
        if self.parts is not None:
            features, head = self.parts
            speaker = features(inputs["waveform"], training=False)
            probabilities = head(
                {"pooled": speaker, **{k: v for k, v in inputs.items() if k != "waveform"}}, training=False
            )
        else:
            probabilities = self.model(inputs, training=False)
            if self.speaker_features is not None:
                speaker = self.speaker_features(inputs["waveform"], training=False)
        labels = tf.gather(self.class_names, tf.argmax(probabilities, axis=-1))
        batch = tf.shape(probabilities)[0]
        outputs = {
            "probabilities": probabilities,
            "labels": labels,
            "class_names": tf.tile(self.class_names[None], [batch, 1]),
        }
        if self.face_pipeline is not None:
            outputs["face_pipeline"] = tf.fill([batch], self.face_pipeline)
        if speaker is not None:
            outputs[SPEAKER_FEATURES] = speaker
        return outputs


def signature_specs(model) -> dict:
    return {t.name: tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name) for t in model.inputs}


def checked(inputs: dict, specs: dict) -> dict:
    """`inputs` once the graph has checked what `checks.check_inputs` checks in a client, for
    the requests that reach TF Serving without it (its loader feeds any shape to a signature):
    the declared shapes, one batch size of at most `MAX_BATCH`, finite values in each input's
    range. A request that fails is refused with the first of these messages, as TF Serving's
    InvalidArgumentError."""
    first = None
    out = {}
    for name, spec in sorted(specs.items()):
        value, shape = inputs[name], tf.shape(inputs[name])
        wanted = shape_text(spec.shape)
        known = [i for i, d in enumerate(spec.shape) if i and d is not None]
        checks = [
            tf.debugging.assert_equal(tf.size(shape), len(spec.shape), f"{name}: expected shape {wanted}"),
            tf.debugging.assert_equal(
                tf.gather(shape, tf.constant(known, tf.int32)),
                tf.constant([spec.shape[i] for i in known], tf.int32),
                f"{name}: expected shape {wanted}",
            ),
            tf.debugging.assert_less_equal(shape[0], MAX_BATCH, f"a request holds at most {MAX_BATCH} windows"),
        ]
        if first is not None:
            checks.append(tf.debugging.assert_equal(shape[0], first, "inputs disagree on the batch size"))
        first = shape[0] if first is None else first
        if spec.dtype.is_floating:
            low, high, meaning = RANGES.get(name, (-float("inf"), float("inf"), spec.dtype.name))
            value = tf.debugging.assert_all_finite(value, f"{name}: NaN or infinite values")
            checks += [
                tf.debugging.assert_greater_equal(tf.reduce_min(value), low, f"{name}: expected {meaning}"),
                tf.debugging.assert_less_equal(tf.reduce_max(value), high, f"{name}: expected {meaning}"),
            ]
        with tf.control_dependencies(checks):
            out[name] = tf.identity(value)
    if "speaker_stats" in out:
        out["speaker_stats"] = _checked_deviations(out["speaker_stats"], out.get("speaker_windows"))
    return out


def _checked_deviations(stats, windows):
    """`stats` once the graph has checked its standard deviations as `checks.check_inputs` does:
    none negative, none zero for a speaker heard (`windows` > 0, or any without `windows`). Read
    after the other checks (`windows` too has passed them: one batch size)."""
    lowest = tf.reduce_min(tf.reshape(stats[:, 1], [tf.shape(stats)[0], -1]), axis=1)
    heard = windows > 0 if windows is not None else tf.ones_like(lowest, tf.bool)
    valid = tf.reduce_all(lowest >= 0) & tf.reduce_all(tf.logical_not(heard) | (lowest > 0))
    message = SPEAKER_DEVIATIONS + (NOT_HEARD if windows is not None else "")
    with tf.control_dependencies([tf.debugging.assert_equal(valid, True, message)]):
        return tf.identity(stats)


def latest_version(base: str) -> int | None:
    """The newest numbered version under saved_models/<name>, None if there is none."""
    existing = (
        [int(v.strip("/")) for v in tf.io.gfile.listdir(base) if v.strip("/").isdigit()]
        if tf.io.gfile.exists(base)
        else []
    )
    return max(existing, default=None)


def next_version(base: str) -> int:
    return (latest_version(base) or 0) + 1


def version_path(export_dir: str, name: str, version: int | None = None, overwrite: bool = False) -> str:
    """EXPORT_DIR/NAME/VERSION to write: `version`, or one past the newest there. UserError for a
    version under 1 (TF Serving serves the folders named 1, 2, ...: "-3" or "0" would be written
    and never served) and for one already there, which TF Serving may be serving
    and which nothing asked to replace, unless `overwrite`."""
    base = os.path.join(export_dir, name)
    if version is None:
        return os.path.join(base, str(next_version(base)))
    if version < 1:
        raise UserError(
            f"--version {version}: versions are numbered from 1 (TF Serving serves the folders named 1, 2, ...)"
        )
    path = os.path.join(base, str(version))
    if tf.io.gfile.exists(path) and not overwrite:
        raise UserError(
            f"--version {version}: {path} already exists: give another version (the next is "
            f"{next_version(base)}), or --overwrite to replace it"
        )
    return path


def _module(model, class_names, metadata: dict | None, checks: bool = True) -> ServingModule:
    classes = model.outputs[0].shape[-1]
    if len(class_names) != classes:
        raise ValueError(f"{len(class_names)} class names {list(class_names)} for a model with {classes} outputs")
    return ServingModule(
        model,
        class_names,
        (metadata or {}).get("face_pipeline") if "faces" in {t.name for t in model.inputs} else None,
        checks,
    )


def _signatures(module: ServingModule, model, outputs: tuple[str, ...] | None = None) -> dict:
    """serving_default (only `outputs`, if given) and, for a speaker-normalised model, speaker_features;
    each function named as its signature (TFLite's converter keys signatures by function name)."""

    def serving_default(**inputs):
        return {k: v for k, v in module(inputs).items() if outputs is None or k in outputs}

    signatures = {SIGNATURE: tf.function(serving_default).get_concrete_function(**signature_specs(model))}
    enrol = module.speaker_features
    if enrol is not None:
        # Enrolment: a speaker's statistics are the mean and std of these over their recordings.
        spec = {"waveform": tf.TensorSpec((None, *enrol.inputs[0].shape[1:]), tf.float32, name="waveform")}

        def speaker_features(waveform):
            if module.checks:
                waveform = checked({"waveform": waveform}, spec)["waveform"]
            return {"features": enrol(waveform, training=False)}

        signatures[SPEAKER_FEATURES] = tf.function(speaker_features).get_concrete_function(**spec)
    return signatures


def _info(model, name: str, version, class_names, metadata: dict | None) -> dict:
    return {
        "name": name,
        "version": version,
        "class_names": list(class_names),
        "per_frame": len(model.outputs[0].shape) == 3,
        "max_batch": MAX_BATCH,
        "inputs": {k: [s.shape.as_list(), s.dtype.name] for k, s in signature_specs(model).items()},
        **(metadata or {}),
    }


def export(
    model,
    export_dir: str,
    name: str,
    class_names,
    version: int | None = None,
    metadata: dict | None = None,
    overwrite: bool = False,
) -> str:
    """Writes the SavedModel and returns its path; the version defaults to one past the newest.
    A version already there is refused (`version_path`) unless `overwrite`, which replaces it
    whole: no file of the old export stays beside the new one's."""
    path = version_path(export_dir, name, version, overwrite)
    version = int(os.path.basename(path))
    module = _module(model, class_names, metadata)
    signatures = _signatures(module, model)
    # The TensorFlow variables the signatures read, tracked themselves (as Keras's own export
    # does): the module holds the Keras model untracked (`ServingModule._hold`), and tracked
    # only through it they reached the SavedModel's object graph but not the restore op of its
    # MetaGraph, which TF Serving's loader runs ("Could not find variable" at the first request).
    module.function_variables = list({id(v): v for f in signatures.values() for v in f.variables}.values())
    # Written beside the version under a name TF Serving does not load (it loads numbered
    # folders), and renamed when whole: a failed export (a full disk) leaves no version that
    # TF Serving would try, and never half of one. An object store (gs://) renames no folder:
    # there the version is written in place.
    partial = os.path.join(os.path.dirname(path), f".partial-{version}") if "://" not in export_dir else path
    if tf.io.gfile.exists(partial):  # a failed export's leftover, or (in place) the version replaced
        tf.io.gfile.rmtree(partial)
    try:
        tf.saved_model.save(module, partial, signatures=signatures)
        # TF Serving ignores extra files: a record for people and tools beside the graph (clients
        # read the classes and the face pipeline from the graph's own outputs).
        with tf.io.gfile.GFile(os.path.join(partial, "emorec.json"), "w") as f:
            json.dump(_info(model, name, version, class_names, metadata), f, indent=1)
    except (OSError, tf.errors.OpError) as error:
        if tf.io.gfile.exists(partial):
            tf.io.gfile.rmtree(partial)
        raise UserError(
            f"--export_dir {export_dir}: {path} could not be written ({str(error).splitlines()[0]}); "
            "nothing of it was kept: free some space or give another --export_dir"
        ) from None
    if partial != path:
        if tf.io.gfile.exists(path):
            tf.io.gfile.rmtree(path)
        tf.io.gfile.rename(partial, path)
    return path


def export_tflite(model, path: str, class_names, metadata: dict | None = None, int8: bool = False) -> str:
    """Writes a TFLite model (TFLite builtin ops only) with the signatures of the SavedModel
    (serving_default: probabilities and, for a speaker-normalised model, speaker_features; the
    speaker_features signature), and what emorec.json holds as its metadata entry `emorec`:
    the class names, face pipeline and inputs, which TFLite's string-less graph cannot return.
    `int8`: weights stored as int8, computed in float (dynamic-range quantisation). Inputs are
    checked by the client (`tflite.TFLiteModel` runs `check_inputs`), not in the graph."""
    from tensorflow.lite.tools import flatbuffer_utils
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python.convert_phase import ConverterError

    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    module = _module(model, class_names, metadata, checks=False)
    signatures = _signatures(module, model, outputs=("probabilities", SPEAKER_FEATURES))
    # Frozen first: given the functions with Keras 3's variables (or their SavedModel), TF 2.21's
    # converter wrote a model without the weights, whose outputs were NaN.
    with tempfile.TemporaryDirectory() as saved:  # several signatures reach the converter as a SavedModel's
        tf.saved_model.save(
            tf.Module(), saved, signatures={k: convert_variables_to_constants_v2(f) for k, f in signatures.items()}
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=list(signatures))
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        try:
            flat = flatbuffer_utils.convert_bytearray_to_object(converter.convert())
        except ConverterError as error:
            raise UserError(
                f"{model.name} cannot be written as TFLite with TFLite's own ops ({_converter_reason(error)}): "
                "serve its SavedModel (TF Serving, or emorec-predict --model on the export)"
            ) from None
    for signature in flat.signatureDefs:  # freezing named the outputs output_0, ...: in nest's (sorted) order
        names = sorted(signatures[signature.signatureKey.decode()].structured_outputs)
        for output in signature.outputs:
            output.name = names[int(output.name.decode().rsplit("_", 1)[1])].encode()
    info = _info(
        model,
        os.path.splitext(os.path.basename(path))[0],
        None,
        class_names,
        {**(metadata or {}), "quantisation": "int8 weights" if int8 else "float32"},
    )
    buffer = schema.BufferT()
    buffer.data = list(json.dumps(info).encode())
    flat.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = TFLITE_INFO, len(flat.buffers) - 1
    flat.metadata = (flat.metadata or []) + [entry]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(flatbuffer_utils.convert_object_to_bytearray(flat))
    os.replace(path + ".tmp", path)
    return path


def _converter_reason(error: Exception) -> str:
    """The converter's first complaint, without its MLIR locations: LSTMs' tensor lists and
    MViTv2's 3D pooling are what this emorec's models hit (tests/test_models.py)."""
    said = [line.split(": error: ", 1)[1] for line in str(error).splitlines() if ": error: " in line]
    reason = (said[0] if said else str(error).splitlines()[0]).rsplit(")): ", 1)[-1]  # after its loc(...)
    return reason.split(". ")[0][:200]


def preset_metadata(card: dict) -> dict:
    """What an export of a preset says of it beside its graph (emorec.json, the TFLite metadata)."""
    return {
        "preset": {"name": card["name"], "version": card["version"], "accuracy": card["accuracy"]["headline"]},
        "face_pipeline": card["face_pipeline"],
        "fps": FPS,
    }
