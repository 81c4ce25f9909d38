"""Do the video models learn from real faces? Actor 05, the only actor whose video is here.

    .venv/bin/python -m benchmarks.real_faces [--models=...] [--epochs=10]

Each video model is trained on one repetition of actor 05's 60 speech clips (the reference
implementation's face crops, 30 clips, every emotion) and tested on the other, both ways:
60 test clips, every one scored by a model that never saw that recording (but saw the same
actor say the same sentence with the same emotion: speaker-dependent). Each model from its
pretrained start where one can be had here and from random weights, against FER2013's
classifier zero-shot (nothing trained). With --face_preset=NAME (a faces preset that
trainers/faces.py wrote with --preset), the per-frame models also train from that preset's
FER2013-trained backbone (`weights='preset:NAME'`), and the preset reads the windows zero-shot
(clip = its mean over the 16 frames). The same models also read the 14 original clips
through the builder (`tfds build`, its own crops), each by the model that did not train on
that clip's repetition.

A window is 16 frames spread over the clip (the reference's crops hold 11-15 faces over the
first 3.6 s; the originals' first 3.6 s are sampled alike), resized as the trainer resizes
them. Training: the trainer's augmentation (`emorec.data.augmentation`), Adam, the same
learning rate and epochs for both starts. A check that the pipeline and the pretrained starts
learn from real pixels on one actor, not a result to compare with papers.
"""

from __future__ import annotations

import pathlib
import time

import numpy as np
from absl import app, flags

from benchmarks import face_crops  # its --workdir: the builds are shared
from benchmarks.common import print_table
from benchmarks.face_crops import REAL, built_crops, reference_crops
from emorec import models, ravdess
from emorec.media.faces import FacePipeline, resize_crops
from emorec.media.features import FPS
from emorec.models import torchvision_weights

# Name -> (build options, the pretrained start's `weights`).
MODELS = {
    "resnet_lstm": ({"backbone": "mobilenet_v2"}, "torchvision_imagenet"),
    "resnet_transformer": ({"backbone": "mobilenet_v2"}, "torchvision_imagenet"),
    "r3d": ({}, "kinetics400"),
    "mvitv2": ({}, "kinetics400"),
}
FRAMES, SECONDS = 16, 3.6

_MODELS = flags.DEFINE_list("models", list(MODELS), "Video models to train.")
_STARTS = flags.DEFINE_multi_enum(
    "starts", ["random", "pretrained"], ["random", "pretrained"], "Which starts to train each model from."
)
_EPOCHS = flags.DEFINE_integer("epochs", 10, "Training epochs over the 30 clips of one repetition.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 112, "Face side the models take.")
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 3e-4, "Adam's learning rate, for both starts.")
_BATCH = flags.DEFINE_integer("batch_size", 6, "Windows per step.")
_FACE_PRESET = flags.DEFINE_string(
    "face_preset", None, "A faces preset of trainers/faces.py: a third start for the per-frame models, and zero-shot."
)


def window(frames: np.ndarray, size: int) -> np.ndarray:
    """16 frames spread evenly over `frames`, [16, size, size, 3] uint8."""
    index = np.linspace(0, len(frames) - 1, FRAMES).round().astype(int)
    return np.asarray(resize_crops(frames[index], size))


def load(size: int) -> tuple[dict, dict]:
    """({repetition: (windows, labels, names)} of the reference crops, the same of the originals
    through the builder)."""

    def by_repetition(clips: dict[str, np.ndarray]) -> dict:
        out = {}
        for name, frames in sorted(clips.items()):
            clip = ravdess.parse(name)
            windows, labels, names = out.setdefault(clip.repetition, ([], [], []))
            windows.append(window(frames, size))
            labels.append(ravdess.label(clip.emotion))
            names.append(name)
        return {r: (np.stack(w), np.array(y), n) for r, (w, y, n) in out.items()}

    crops = {p.stem: reference_crops(p) for p in sorted((REAL / "face_crops_actor_05").glob("*.avi"))}
    built = built_crops(FacePipeline().margin, pathlib.Path(face_crops._WORKDIR.value))
    fps = FPS
    built = {name: frames[: int(SECONDS * fps)] for name, frames in built.items()}
    return by_repetition(crops), by_repetition(built)


def train(name: str, weights, windows: np.ndarray, labels: np.ndarray, seed: int):
    import keras
    import tensorflow as tf

    from emorec.data import augmentation

    keras.utils.set_random_seed(seed)
    options, _ = MODELS[name]
    model = models.build(name, num_classes=8, frames=FRAMES, image_size=windows.shape[2], weights=weights, **options)
    model.compile(keras.optimizers.Adam(_LEARNING_RATE.value), "sparse_categorical_crossentropy", metrics=["accuracy"])

    def augmented(epoch):
        ds = tf.data.Dataset.from_tensor_slices((windows, labels)).enumerate()
        ds = ds.shuffle(len(labels), seed=seed * 1000 + epoch)
        return ds.map(
            lambda i, example: (
                augmentation.augment({"faces": example[0]}, tf.stack([tf.cast(epoch, tf.int64), i])),
                example[1],
            )
        )

    ds = augmented(0)
    for epoch in range(1, _EPOCHS.value):
        ds = ds.concatenate(augmented(epoch))
    model.fit(ds.batch(_BATCH.value), epochs=1, verbose=0)
    return model


def accuracy_row(label: str, predict, reference: dict, originals: dict, trained_seconds: float = 0.0) -> list[str]:
    """Right of the 60 crops (each repetition by `predict(test_repetition)`) and of the 14 originals;
    the seconds: `trained_seconds` and the reading's own."""
    start = time.perf_counter()
    right, total, right_built, total_built = 0, 0, 0, 0
    for repetition in (1, 2):
        scorer = predict(repetition)
        windows, labels, _ = reference[repetition]
        right += int((scorer(windows) == labels).sum())
        total += len(labels)
        if repetition in originals:
            windows, labels, _ = originals[repetition]
            right_built += int((scorer(windows) == labels).sum())
            total_built += len(labels)
    seconds = trained_seconds + time.perf_counter() - start
    return [label, f"{right} of {total}", f"{right / total:.3f}", f"{right_built} of {total_built}", f"{seconds:.0f}"]


def preset_zero_shot(preset: str, reference: dict, originals: dict) -> list[str]:
    """The faces preset's network on the 16-frame windows, nothing trained: the preset's own model
    (per-frame network, mean over frames, RAVDESS's classes) at this benchmark's window length."""
    trained = models.from_preset(preset)
    window = type(trained).from_config({**trained.get_config(), "frames": FRAMES})
    window.set_weights(trained.get_weights())
    return accuracy_row(
        f"faces preset {preset} zero-shot (nothing trained)",
        lambda r: lambda x: window.predict({"faces": x}, verbose=0).argmax(1),
        reference,
        originals,
    )


def main(argv):
    del argv
    size = _IMAGE_SIZE.value
    reference, originals = load(size)
    rows = []
    zero_shot = models.build("fer_zero_shot", num_classes=8, frames=FRAMES, image_size=size)
    rows.append(
        accuracy_row(
            "FER2013 zero-shot (nothing trained)",
            lambda r: lambda x: zero_shot.predict({"faces": x}, verbose=0).argmax(1),
            reference,
            originals,
        )
    )
    print(rows[-1], flush=True)
    if _FACE_PRESET.value:
        rows.append(preset_zero_shot(_FACE_PRESET.value, reference, originals))
        print(rows[-1], flush=True)
    for name in _MODELS.value:
        options, pretrained = MODELS[name]
        starts = {"random": None} if "random" in _STARTS.value else {}
        if "pretrained" in _STARTS.value:
            try:
                torchvision_weights.checkpoint_path(options.get("backbone", name), pretrained)
                starts[pretrained] = pretrained
            except torchvision_weights.CheckpointError as e:
                rows.append([f"{name} from {pretrained}: not run ({e})", "", "", "", ""])
        if _FACE_PRESET.value and "backbone" in options:
            starts[f"FER2013 ({_FACE_PRESET.value})"] = f"preset:{_FACE_PRESET.value}"
        for start_name, weights in starts.items():
            start = time.perf_counter()
            trained = {test: train(name, weights, *reference[3 - test][:2], seed=test) for test in (1, 2)}
            rows.append(
                accuracy_row(
                    f"{name}{' (' + options['backbone'] + ')' if options else ''} from {start_name}",
                    lambda r: lambda x: trained[r].predict({"faces": x}, verbose=0).argmax(1),
                    reference,
                    originals,
                    time.perf_counter() - start,
                )
            )
            print(rows[-1], flush=True)
    print_table(
        f"`python -m benchmarks.real_faces --epochs={_EPOCHS.value} --image_size={size} "
        f"--learning_rate={_LEARNING_RATE.value} --batch_size={_BATCH.value}"
        f"{' --face_preset=' + _FACE_PRESET.value if _FACE_PRESET.value else ''}`: ONE actor (05), "
        "speaker-dependent; trained on one repetition's 30 clips, tested on the other's, both ways; "
        "8 classes (chance 0.125)",
        [
            "model and start",
            "right, 60 reference crops",
            "accuracy",
            "right, 14 originals through the builder",
            "seconds (both ways)",
        ],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
