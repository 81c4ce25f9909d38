"""Per model: parameters, FLOPs per clip, training step and inference time per clip; per
preset: each way it is served, its size, CPU time per clip, and agreement on real clips.

    .venv/bin/python -m benchmarks.models [--models=r3d,mel_cnn2d,trainers/configs/whisper_base.cfg]
        [--frames=16] [--image_size=112]
    .venv/bin/python -m benchmarks.models --models= --presets=all

A preset is measured as the Keras model in process (the anchor), its SavedModel (TF Serving's
layout, run by `serving.LocalModel`) and its TFLite models (float32, and int8 weights) run by
TensorFlow's interpreter, on real clips of RAVDESS actor 05 (`../shared/data/ravdess`): the 60
audio-only recordings for the voice, the reference implementation's crops of the same 60
sentences for the faces, each clip as a speaker's first (no speaker statistics). The voice
preset's head was trained on actor 05 among others: the accuracy column is agreement with
the labels on clips it heard, there to show what int8 changes, not a held-out score.

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

import numpy as np
import tensorflow as tf
import keras

from benchmarks.common import flops_per_clip, print_table, random_inputs, read_config
from emorec import models, tflite

DEFAULT_MODELS = [
    "resnet_lstm",
    "resnet_transformer",
    "r3d",
    "mvitv2",
    "mvitv2_tiny",
    "wave_cnn1d",
    "mel_cnn2d",
    "mvitv2+wave_cnn1d",
    "per_frame",
    "av_transformer",
    "resnet_lstm@small_cnn",
    "resnet_lstm@fer",
    "trainers/configs/whisper_base.cfg",
]
_MODELS = flags.DEFINE_list(
    "models", DEFAULT_MODELS, "Names or training configs to measure; NAME@BACKBONE picks a frame backbone."
)
_FRAMES = flags.DEFINE_integer("frames", 16, "Window length in frames.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 112, "Face size.")
_BATCH = flags.DEFINE_integer("batch", 4, "Clips per training step.")
_STEPS = flags.DEFINE_integer("steps", 3, "Timed repetitions.")
_PRESETS = flags.DEFINE_list("presets", [], "Presets to measure as Keras, SavedModel and TFLite ('all': every one).")
_EXPORTS = flags.DEFINE_string(
    "exports_dir", str(pathlib.Path(__file__).parent / "out" / "presets"), "Where the presets' exports go."
)


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
    x = random_inputs(model, batch)
    y = np.zeros((batch, frames) if name == "per_frame" else (batch,), np.int32)
    train = _timed(lambda: model.train_on_batch(x, y), steps) / batch
    one = random_inputs(model, 1)
    infer = tf.function(lambda x: model(x, training=False))
    predict = _timed(lambda: infer(one)[0].numpy(), steps)
    return [label, f"{params / 1e6:.2f} M", f"{flops / 1e9:.1f}", f"{train * 1000:.0f}", f"{predict * 1000:.0f}"]


def _size(path: pathlib.Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def real_clips(signature: dict, actor: int = 5) -> list[tuple[dict, int]]:
    """(a served preset's inputs, `signature`, for each window of the clip, its label) for the
    actor's 60 sentences, each clip as a speaker's first."""
    from benchmarks.face_crops import REAL, reference_crops
    from emorec import enrolment, ravdess
    from emorec.media import audio
    from emorec.media.faces import resize_crops

    clips = []
    for wav in sorted((REAL / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}").glob("03-01-*.wav")):
        x = {}
        if "waveform" in signature:
            x["waveform"] = enrolment.audio_windows(audio.load_audio(str(wav)), signature["waveform"].shape[1])
        windows = len(x.get("waveform", [None]))
        for name in ("speaker_stats", "speaker_windows"):  # nothing heard of the speaker
            if name in signature:
                x[name] = np.zeros((windows, *signature[name].shape[1:]), np.float32)
        if "faces" in signature:
            _, frames, size, _, _ = signature["faces"].shape
            crops = reference_crops(REAL / "face_crops_actor_05" / f"01{wav.stem[2:]}.avi")
            crops = np.asarray(resize_crops(crops, size)).astype(np.uint8)
            faces = np.concatenate([crops, np.repeat(crops[-1:], frames - len(crops), 0)])  # the last face repeated
            x["faces"] = np.repeat(faces[None], windows, 0)
        clips.append((x, ravdess.label(ravdess.parse(wav.stem).emotion)))
    return clips


def preset_rows(name: str, workdir: pathlib.Path, steps: int) -> list:
    """One row per way the preset is served: size, ms per clip, agreement with Keras, accuracy."""
    import shutil

    from emorec import export, presets, serving

    card = presets.card(name)
    model = models.from_preset(name)
    metadata = {"face_pipeline": card["face_pipeline"]}
    shutil.rmtree(workdir / name, ignore_errors=True)
    saved = export.export(model, str(workdir), name, card["classes"], version=1, metadata=metadata)
    lite = export.export_tflite(model, str(workdir / f"{name}.tflite"), card["classes"], metadata)
    lite8 = export.export_tflite(model, str(workdir / f"{name}.int8.tflite"), card["classes"], metadata, int8=True)
    ways = {
        "Keras, in process": (
            serving.KerasModel(model, card["classes"], card["face_pipeline"]),
            f"{model.count_params() * 4 / 1e6:.1f} (float32 weights)",
        ),
        "SavedModel (TF Serving)": (serving.LocalModel(saved), f"{_size(pathlib.Path(saved)) / 1e6:.1f}"),
        "TFLite, float32": (tflite.TFLiteModel(lite), f"{_size(pathlib.Path(lite)) / 1e6:.1f}"),
        "TFLite, int8 weights": (tflite.TFLiteModel(lite8), f"{_size(pathlib.Path(lite8)) / 1e6:.1f}"),
    }
    clips = real_clips(ways["Keras, in process"][0].signature)
    labels = np.array([label for _, label in clips])
    rows, anchor = [], None
    for way, (served, size) in ways.items():
        x0 = clips[0][0]
        seconds = _timed(lambda: served.predict(x0), steps)
        p = np.stack([served.predict(x)["probabilities"].mean(0) for x, _ in clips])
        anchor = p if anchor is None else anchor
        rows.append(
            [
                name,
                way,
                size,
                f"{seconds * 1000:.0f}",
                f"{np.abs(p - anchor).max():.1e}",
                f"{(p.argmax(1) == anchor.argmax(1)).sum()} of {len(p)}",
                f"{(p.argmax(1) == labels).mean():.3f}",
            ]
        )
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main(argv):
    del argv
    if _PRESETS.value:
        from emorec import presets

        rows = []
        for name in presets.names() if _PRESETS.value == ["all"] else _PRESETS.value:
            rows += preset_rows(name, pathlib.Path(_EXPORTS.value), _STEPS.value)
        print_table(
            f"`{' '.join(['python -m benchmarks.models'] + sys.argv[1:])}` on {platform.machine()}, "
            f"{os.cpu_count()} cores, TF {tf.__version__}: each preset as it is served, on the 60 sentences of "
            "RAVDESS actor 05 (the voice preset heard that actor in training), one clip per call, each a "
            "speaker's first",
            [
                "preset",
                "served as",
                "size, MB",
                "CPU ms per clip",
                "max |probability - Keras|",
                "same label as Keras",
                "accuracy",
            ],
            rows,
        )
    rows = []
    for spec in _MODELS.value:
        rows.append(measure(spec, _FRAMES.value, _IMAGE_SIZE.value, _BATCH.value, _STEPS.value))
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    if not rows:
        return
    print_table(
        f"`{' '.join(['python -m benchmarks.models'] + sys.argv[1:])}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, TF {tf.__version__}; {_FRAMES.value} frames x {_IMAGE_SIZE.value}x"
        f"{_IMAGE_SIZE.value} faces + their audio, batch {_BATCH.value}, mean of {_STEPS.value} steps",
        ["model", "parameters", "GFLOPs per clip (forward)", "training ms per clip", "inference ms per clip"],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
