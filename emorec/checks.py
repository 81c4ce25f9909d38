"""What every client of an export shares, without TensorFlow: a request checked against the
exported signature before it runs or leaves (`check_inputs`: a wrong shape, dtype or value gets
one line that says what was expected), and what an export says of itself (`read_export_info`).
The SavedModel and TF Serving clients (`emorec.serving`) and the TFLite one (`emorec.tflite`)
use these, so that a preset run by LiteRT imports no TensorFlow.
"""

from __future__ import annotations

import json

import numpy as np

from emorec.errors import UserError
from emorec.signatures import MAX_BATCH, NOT_HEARD, RANGES, SPEAKER_DEVIATIONS, shape_text


def check_inputs(inputs: dict, signature: dict) -> dict:
    """The inputs as the signature's dtypes, or ValueError in one line naming the input and
    what it expects: names, shapes (batch agreeing across inputs), dtypes without a cast that
    changes a value, finite values within each input's range."""
    missing, extra = set(signature) - set(inputs), set(inputs) - set(signature)
    if missing or extra:
        expected = ", ".join(f"{n} {list(s)} {np.dtype(d).name}" for n, (s, d) in sorted(signature.items()))
        raise ValueError(f"the model takes {expected}; missing {sorted(missing)}, unexpected {sorted(extra)}")
    checked, batches = {}, {}
    for name, (shape, dtype) in sorted(signature.items()):
        value, dtype = np.asarray(inputs[name]), np.dtype(dtype)
        wanted = f"{shape_text(shape)} {dtype.name}"
        if value.ndim != len(shape) or any(e is not None and e != v for e, v in zip(shape, value.shape)):
            raise ValueError(f"{name}: expected shape {wanted}, got {list(value.shape)}")
        batches[name] = value.shape[0]
        low, high, meaning = RANGES.get(name, (-np.inf, np.inf, dtype.name))
        if value.dtype.kind not in "biuf" or (dtype.kind in "iu" and value.dtype.kind == "f"):
            raise ValueError(
                f"{name}: expected {meaning}, got {value.dtype.name} (cast it yourself: no value is changed silently)"
            )
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{name}: {int(np.size(value) - np.isfinite(value).sum())} values are NaN or infinite")
        if value.size and (value.min() < low or value.max() > high):
            raise ValueError(f"{name}: expected {meaning}, got values from {value.min():.4g} to {value.max():.4g}")
        checked[name] = value.astype(dtype, copy=False)
    if len(set(batches.values())) > 1:
        raise ValueError(f"inputs disagree on the batch size: {batches}")
    if min(batches.values(), default=1) < 1:  # REST's JSON would carry empty lists whose shape is lost
        raise ValueError("a request holds at least 1 window, this one none")
    if max(batches.values(), default=0) > MAX_BATCH:
        raise ValueError(
            f"a request holds at most {MAX_BATCH} windows, this one {max(batches.values())}: send them in parts"
        )
    _check_speaker_stats(checked)
    return checked


def _check_speaker_stats(inputs: dict) -> None:
    """ValueError, in one line, for `speaker_stats` whose standard deviations are negative, or
    zero for a speaker heard (`SPEAKER_DEVIATIONS`): such a request changed the output rather
    than failing. The exported graph refuses the same (`export.checked`)."""
    stats = inputs.get("speaker_stats")
    if stats is None or not stats.size:
        return
    lowest = stats[:, 1].reshape(len(stats), -1).min(1)
    heard = inputs["speaker_windows"] > 0 if "speaker_windows" in inputs else np.ones(len(stats), bool)
    if (lowest < 0).any() or (lowest[heard] == 0).any():
        raise ValueError(
            f"{SPEAKER_DEVIATIONS}, got {lowest.min():.4g}: compute them with emorec.enrolment"
            + (NOT_HEARD if "speaker_windows" in inputs else "")
        )


def zeros(signature: dict) -> dict:
    """A request of zeros, but for the speaker's deviations: ones (a speaker, as `check_inputs` wants)."""
    request = {
        name: np.zeros([1 if e is None else e for e in shape], dtype) for name, (shape, dtype) in signature.items()
    }
    if "speaker_stats" in request:
        request["speaker_stats"][:, 1] = 1
    return request


def read_export_info(model) -> dict:
    """What a `LocalModel` or `ServingClient` export says of itself, read with one request of
    zeros: {'class_names': its classes, 'face_pipeline': the face pipeline's settings its
    training crops came from (None when it takes no faces or predates them)}. UserError when
    the export names no classes or a number other than its output's width."""
    outputs = model.predict(zeros(model.signature))
    if "class_names" not in outputs:
        raise UserError(
            f"{model.describe()} returns no class_names (exported before exports named their classes): export it again"
        )
    names = [text(n) for n in np.asarray(outputs["class_names"])[0]]
    width = np.asarray(outputs["probabilities"]).shape[-1]
    if len(names) != width:
        raise UserError(f"{model.describe()} names {len(names)} classes {names} for {width} outputs")
    pipeline = outputs.get("face_pipeline")
    return {
        "class_names": names,
        "face_pipeline": json.loads(text(np.asarray(pipeline)[0])) if pipeline is not None else None,
    }


def first_line(error: Exception) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)[:200]


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
