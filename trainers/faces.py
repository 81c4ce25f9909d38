"""Trains a face-expression network on FER2013 (`emorec.models.face_expression`): fits on its
Training part (28,709 faces), chooses the epoch on PublicTest (3,589) and scores PrivateTest
(3,589) once, with the chosen epoch's weights, at the end.

    TF_ENABLE_ONEDNN_OPTS=1 python -m trainers.faces --flagfile=trainers/configs/faces_fer2013.cfg \
        --data=/data/faces/fer2013

The faces go in as the face pipeline's crops (`--image_size`, RGB, grey in every channel),
perturbed (`emorec.data.fer2013.perturb`); the loss weighs each class by (1 / its count) **
--class_weight_power (disgust has 436 training faces, happy 7,215). Every epoch is backed up
(`trainers.checkpoints`): run the same command again to resume a killed run where it stopped.
RUN_DIR gets history.csv (PublicTest per epoch), best.weights.h5, model.keras (the chosen
epoch, whole) and metrics.json (PrivateTest, per class, the confusion matrix, the seconds).
With --preset=NAME the chosen network is also written as a faces preset (`--preset_dir/NAME`,
`models.save_to_preset`): every frame of a 128-frame window of face crops read by it, as the
`fer2013_faces` preset reads them with the mini-Xception, its card stating the PrivateTest.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os

from absl import flags

import numpy as np

import trainers
from emorec import folders, presets

flags.DEFINE_string("data", "/data/faces/fer2013", "FER2013's folder: labels.csv and the JPEGs it names.")
flags.DEFINE_string("run_dir", os.path.join("runs", "faces_fer2013"), "Backups, history, weights and metrics.")
flags.DEFINE_string("cache_dir", os.path.join("runs", "fer2013_cache"), "The decoded faces (uint8 arrays).")
flags.DEFINE_string("backbone", "mobilenet_v2", "The per-frame backbone (emorec.models.backbones).")
flags.DEFINE_string("weights", "torchvision_imagenet", "The backbone's start ('none': random).")
flags.DEFINE_integer("image_size", 112, "The face crop the network takes (the face pipeline's).")
flags.DEFINE_integer(
    "working_size", 64, "The side the network resizes the crop to before the backbone.", lower_bound=32
)
flags.DEFINE_bool("grey", True, "Read every crop as grey (FER2013 is grey).")
flags.DEFINE_bool("augment", True, "Perturb the training faces.")
flags.DEFINE_float(
    "max_scale", 0.1, "A perturbed face is zoomed by 1 +- up to this: crops of video frame a face more or less tightly."
)
flags.DEFINE_integer("epochs", 10, "Passes over the Training part.")
flags.DEFINE_integer("batch_size", 64, "Faces per step.")
flags.DEFINE_float("learning_rate", 1e-3, "AdamW's peak rate, decayed to 0 over the run by a cosine.")
flags.DEFINE_float("weight_decay", 1e-4, "AdamW's decoupled weight decay.")
flags.DEFINE_float("label_smoothing", 0.1, "FER2013's labels are one rater's; about 10% disagree with a second.")
flags.DEFINE_float("class_weight_power", 0.5, "Class weight = (1 / count) ** power (0: none, 1: balanced).")
flags.DEFINE_float("dropout", 0.2, "Dropout before the classifier.")
flags.DEFINE_integer("seed", 0, "Seed of the initialisation, the order and the perturbations.")
flags.DEFINE_integer("limit", 0, "Use only the first N faces of each part, for a smoke test (0: all).")
flags.DEFINE_string("preset", None, "Also write the chosen network as a faces preset of this name in --preset_dir.")
flags.DEFINE_string("preset_dir", presets.ROOT, "Where --preset's folder is written.")
flags.register_validator("epochs", lambda value: value >= 1, message="must be at least 1")
flags.register_validator("max_scale", lambda value: 0 <= value < 1, message="must be in [0, 1)")


@dataclasses.dataclass(frozen=True)
class Settings(trainers.FlagSettings):
    """This trainer's flags, read once: `run(Settings.of(data=..., limit=64))` from a notebook."""

    data: str
    run_dir: str
    cache_dir: str
    backbone: str
    weights: str
    image_size: int
    working_size: int
    grey: bool
    augment: bool
    max_scale: float
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    label_smoothing: float
    class_weight_power: float
    dropout: float
    seed: int
    limit: int
    preset: str | None
    preset_dir: str

    @property
    def start(self):
        """The backbone's `weights` argument: the flag's 'none' is None (random)."""
        return None if self.weights == "none" else self.weights


def _loss(num_classes: int, smoothing: float):
    import keras

    def loss(y_true, y_pred):  # sparse labels with smoothing: Keras' sparse loss has none
        y = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), num_classes)
        return keras.losses.categorical_crossentropy(y * (1 - smoothing) + smoothing / num_classes, y_pred)

    return loss


def _parts(settings: Settings) -> dict:
    from emorec.corpora import fer2013

    parts = fer2013.load(settings.data, settings.cache_dir)
    if settings.limit:
        parts = {s: (faces[: settings.limit], labels[: settings.limit]) for s, (faces, labels) in parts.items()}
    return parts


def scores(model, faces, labels, num_classes: int, image_size: int) -> dict:
    """Accuracy, each class's recall and the confusion matrix (rows: truth) of `faces`."""
    from emorec.data import fer2013 as fer_data

    predicted = model.predict(fer_data.evaluation(faces, labels, image_size, 256), verbose=0).argmax(-1)
    confusion = np.zeros((num_classes, num_classes), int)
    np.add.at(confusion, (labels, predicted), 1)
    recall = confusion.diagonal() / np.maximum(confusion.sum(1), 1)
    return {
        "accuracy": float((predicted == labels).mean()),
        "mean_recall": float(recall.mean()),
        "recall": recall.round(4).tolist(),
        "confusion": confusion.tolist(),
        "faces": int(len(labels)),
    }


def main(argv):
    del argv
    run(Settings.from_flags())


def run(settings: Settings) -> dict:
    """Trains, chooses on PublicTest, scores PrivateTest; returns (and writes) the metrics."""
    import keras

    from emorec.corpora import fer2013
    from emorec.data import fer2013 as fer_data
    from emorec.models.face_expression import face_expression
    from trainers import checkpoints, run_lock

    # Before any work: the run's folder, and the preset's, which is written at the run's end.
    folders.refuse_unwritable(f"--run_dir={settings.run_dir}", settings.run_dir)
    if settings.preset:
        folders.refuse_unwritable(f"--preset_dir={settings.preset_dir}", settings.preset_dir)
    run_lock.hold(settings.run_dir, "run_dir")
    parts = _parts(settings)
    (train_x, train_y), (public_x, public_y) = parts["Training"], parts["PublicTest"]
    num_classes = len(fer2013.CLASSES)
    keras.utils.set_random_seed(settings.seed)
    model = face_expression(
        num_classes,
        settings.image_size,
        settings.working_size,
        settings.grey,
        settings.backbone,
        settings.start,
        settings.dropout,
    )
    steps = -(-len(train_y) // settings.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, settings.epochs * steps)
    model.compile(
        keras.optimizers.AdamW(schedule, weight_decay=settings.weight_decay),
        _loss(num_classes, settings.label_smoothing),
        metrics=["accuracy"],
        jit_compile=False,
    )
    best = os.path.join(settings.run_dir, "best.weights.h5")
    callbacks, stopwatch = checkpoints.callbacks(settings.run_dir, best, seed=settings.seed)
    first = checkpoints.resumed_epochs(settings.run_dir)
    if first:
        print(f"resuming after epoch {first} of {settings.epochs} ({settings.run_dir}/backup)", flush=True)
    weights = fer_data.class_weights(train_y, num_classes, settings.class_weight_power)
    train = fer_data.training(
        train_x,
        train_y,
        settings.image_size,
        settings.batch_size,
        settings.seed,
        first,
        settings.epochs,
        settings.augment,
        settings.max_scale,
    )
    if first < settings.epochs:
        model.fit(
            train,
            epochs=settings.epochs,
            steps_per_epoch=steps,
            callbacks=callbacks,
            validation_data=fer_data.evaluation(public_x, public_y, settings.image_size, 256),
            class_weight=weights,
            verbose=1,
        )
    model.load_weights(best)  # the epoch chosen on PublicTest
    model.save(os.path.join(settings.run_dir, "model.keras"))
    results = {
        "classes": list(fer2013.CLASSES),
        "public_test": scores(model, public_x, public_y, num_classes, settings.image_size),
        "private_test": scores(model, *parts["PrivateTest"], num_classes, settings.image_size),
        "class_weights": weights,
        "train_seconds": stopwatch.seconds,
        "train_faces": int(len(train_y)),
        "flags": dataclasses.asdict(settings),
    }
    with open(os.path.join(settings.run_dir, "metrics.json"), "w") as f:
        json.dump(results, f, indent=1)
    if settings.preset:
        print(f"preset: {write_preset(settings, results, best)}", flush=True)
    print(
        f"PublicTest {results['public_test']['accuracy']:.4f} (chosen epoch), PrivateTest "
        f"{results['private_test']['accuracy']:.4f} (mean recall {results['private_test']['mean_recall']:.4f}), "
        f"{stopwatch.seconds / 60:.0f} min of training",
        flush=True,
    )
    return results


PRESET_FRAMES = 128  # a window's frames, as the fer2013_faces preset's


def write_preset(settings: Settings, results: dict, weights_file: str) -> str:
    """The network of `weights_file` as a faces preset in `settings.preset_dir`; returns its folder."""
    from emorec import models, ravdess
    from emorec.media.faces import FacePipeline
    from emorec.media.features import FPS
    from emorec.models.face_expression import FaceExpressionWindow

    window = FaceExpressionWindow(
        num_classes=len(ravdess.EMOTIONS),
        frames=PRESET_FRAMES,
        image_size=settings.image_size,
        working_size=settings.working_size,
        grey=settings.grey,
        backbone=settings.backbone,
        weights=settings.start,
    )
    window.per_frame().load_weights(weights_file)
    private, public = results["private_test"], results["public_test"]
    size, command = settings.image_size, settings.command_line("trainers.faces")
    card = {
        "name": settings.preset,
        "title": f"Emotion in faces: {settings.backbone} from its '{settings.weights}' start, trained on FER2013 "
        "by trainers.faces, on every frame",
        "modalities": ["faces"],
        "classes": list(ravdess.EMOTIONS),
        "inputs": {
            "faces": f"uint8 [batch, {PRESET_FRAMES}, {size}, {size}, 3]: {PRESET_FRAMES / FPS:.2f} s of RGB "
            "face crops made by the face pipeline below"
        },
        "face_pipeline": FacePipeline(size=size).to_dict(),
        "pretrained": [
            f"{settings.backbone}: its '{settings.weights}' start (emorec.models.backbones), then trained whole "
            "on FER2013; FER2013's neutral is shared by neutral and calm",
            "BlazeFace short-range face detector (MediaPipe, Apache 2.0), from the `mediapipe==0.10.21` wheel",
        ],
        "trained_on": {
            "data": f"FER2013's Training part ({results['train_faces']:,} grey 48 x 48 web faces, 7 expressions); "
            "the epoch chosen on PublicTest; nothing trained on RAVDESS",
            "date": datetime.date.today().isoformat(),
            "seconds": round(results["train_seconds"]),
            "command": command,
        },
        "accuracy": {
            "headline": f"{private['accuracy']:.3f} on FER2013's PrivateTest ({private['faces']:,} faces, 7 classes; "
            f"mean recall {private['mean_recall']:.3f}), scored once",
            "protocol": "FER2013's PrivateTest, each 48 px grey face resized to the crop side and read as one frame, "
            "scored once with the epoch PublicTest chose; web faces, like the training faces: on faces from video "
            "it reads less well (docs/faces.md)",
            "command": command,
            "date": datetime.date.today().isoformat(),
            "results": {
                "FER2013 PrivateTest": f"{private['accuracy']:.4f}",
                "FER2013 PublicTest (chose the epoch)": f"{public['accuracy']:.4f}",
            },
        },
        "licence": "FER2013 was released for the ICML 2013 representation-learning challenge without an open "
        "licence: check its terms before commercial use. No RAVDESS data went into this preset.",
    }
    return models.save_to_preset(window, os.path.join(settings.preset_dir, settings.preset), card)


if __name__ == "__main__":
    trainers.run(main, "trainers.faces")
