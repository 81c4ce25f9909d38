"""Trains a registered model on a built RAVDESS dataset, for one actor-independent fold or all.

    python -m trainers.train --flagfile=trainers/configs/NAME.cfg [--flags]

Per fold, under --model_dir/fold_K: `backup/` (a killed run started again with the same
command continues from its last finished epoch), `best.weights.h5` (the epoch with the best
validation accuracy: model choice sees validation actors only), TensorBoard logs in
`logs/`, `history.csv`, `metrics.json` (validation and test, window- and clip-level),
`predictions.npz` (their per-clip probabilities, for emorec.evaluation), `confusion_test.png`
and `curves.png`. Over folds: `summary.json` with mean and spread (emorec.evaluation.runs).
With --export_dir, the best fold's model is exported for TF Serving.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

import trainers
from emorec import distribute, export, feature_cache, folders, metrics, models, plots, ravdess
from emorec.data import datasets, windows
from emorec.evaluation import predictions, runs
from emorec.errors import UserError
from emorec.media.features import FPS
from trainers import checkpoints, run_lock

# Keras warns that the input "ran out of data" when it looks one batch past an epoch's last:
# the datasets end there by design (`windows.train_dataset`), with the epoch's order fixed.
warnings.filterwarnings("ignore", message="Your input ran out of data")
# What to train.
flags.DEFINE_string("model", None, "A name from emorec.models.names(); fusions as VIDEO+AUDIO.")
flags.DEFINE_string("backbone", None, "Frame encoder of per-frame models: resnet50, mobilenet_v2, small_cnn, fer.")
flags.DEFINE_string("weights", None, "Backbone weights: imagenet, fer2013, or a weights file.")
flags.DEFINE_string("merge", None, "Fusion merge layer: concat, gated, cross_attention.")
flags.DEFINE_list(
    "freeze",
    [],
    "Fine-tuning: layers kept at their pretrained weights (batch norms in inference "
    "mode), by name or name prefix at any depth, e.g. stem,stage1 (r3d); see docs/gpu.md.",
)
flags.DEFINE_list("options", [], "More model options as key=value (Python literals), e.g. lstm_units=128.")
flags.DEFINE_integer("frames", 16, "Window length W in video frames (audio: W / 29.97 s).")
flags.DEFINE_integer("image_size", 112, "Face size the model takes.")
flags.DEFINE_enum("classes", "8", ["8", "7"], "8 RAVDESS emotions, or 7 without neutral (the reference study).")
# Data.
flags.DEFINE_string("data_dir", "~/tensorflow_datasets", "TFDS data_dir holding a built DATASET/<config>.")
flags.DEFINE_enum("dataset", "ravdess", ["ravdess", "cremad"], "The corpus (datasets/DATASET, built with tfds build).")
flags.DEFINE_string("config", "av", "Dataset config: av, audio, video (+ _song).")
flags.DEFINE_integer("fold", 0, "Fold to run (1-based); 0 runs every fold in turn.")
flags.DEFINE_integer("num_folds", None, "Folds of consecutive actors; default one per 4 actors present (6 for 24).")
flags.DEFINE_boolean("augment", True, "Augment training windows (faces and audio).")
flags.DEFINE_boolean(
    "refit",
    False,
    "After each fold's validated run, train a second model from scratch on the "
    "training and validation actors for as many epochs as validation chose; test their average.",
)
flags.DEFINE_enum("eval_windows", "all", ["all", "centre"], "Evaluate every window (W/2 apart) or the centre one.")
# Optimisation.
flags.DEFINE_integer("batch_size", 16, "Global batch size, split across replicas.")
flags.DEFINE_integer("epochs", 30, "Epochs.")
flags.DEFINE_float("learning_rate", 1e-3, "Peak learning rate.")
flags.DEFINE_enum("schedule", "cosine", ["cosine", "constant"], "Learning rate schedule (cosine: warm-up then decay).")
flags.DEFINE_float("warmup_epochs", 1.0, "Linear warm-up for the cosine schedule.")
flags.DEFINE_float("weight_decay", 1e-4, "AdamW weight decay.")
flags.DEFINE_float("label_smoothing", 0.0, "Label smoothing.")
flags.DEFINE_boolean("mixed_precision", False, "bfloat16 on CPU/TPU, float16 on GPU.")
flags.DEFINE_boolean("jit_compile", False, "Compile train steps with XLA.")
flags.DEFINE_integer("seed", 0, "Random seed.")
# Where and how.
flags.DEFINE_string("model_dir", None, "Run folder (checkpoints, logs, metrics, plots).")
flags.DEFINE_string(
    "feature_cache",
    None,
    "Frozen encoders: where their cached features live (default "
    "MODEL_DIR/feature_cache.npz); runs of one encoder on one dataset can share it.",
)
flags.DEFINE_string("export_dir", None, "Export the best fold's model here as <name>/<version>/ (TF Serving).")
flags.DEFINE_string("export_name", None, "Name of the export; default the model name.")
flags.DEFINE_enum("strategy", "auto", list(distribute.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_string("tpu", None, "TPU name or address (implies --strategy=tpu under auto).")
flags.DEFINE_integer("verbose", 1, "Keras progress: 1 bars, 2 a line per epoch, 0 silent.")

# Checked when the flags are read, before any work: each refusal is one line.
for _name, _low in (("frames", 1), ("image_size", 1), ("batch_size", 1), ("epochs", 1), ("fold", 0)):
    flags.register_validator(_name, lambda value, low=_low: value >= low, message=f"must be at least {_low}")
flags.register_validator(
    "num_folds",
    lambda value: value is None or value >= 3,
    message="must be at least 3 (training, validation and test folds)",
)
flags.register_validator("learning_rate", lambda value: value > 0, message="must be positive")
flags.register_validator("label_smoothing", lambda value: 0 <= value < 1, message="must be in [0, 1)")


@dataclasses.dataclass(frozen=True)
class Settings(trainers.FlagSettings):
    """Every flag of this trainer, read once and passed down, so that its steps run from a
    notebook too: `Settings.of(model="wave_cnn1d", config="audio", data_dir=...)`."""

    model: str | None
    backbone: str | None
    weights: str | None
    merge: str | None
    freeze: list[str]
    options: list[str]
    frames: int
    image_size: int
    classes: str
    data_dir: str | None
    dataset: str
    config: str | None
    fold: int
    num_folds: int | None
    augment: bool
    refit: bool
    eval_windows: str
    batch_size: int
    epochs: int
    learning_rate: float
    schedule: str
    warmup_epochs: float
    weight_decay: float
    label_smoothing: float
    mixed_precision: bool
    jit_compile: bool
    seed: int
    model_dir: str | None
    feature_cache: str | None
    export_dir: str | None
    export_name: str | None
    strategy: str
    tpu: str | None
    verbose: int


def model_options(settings: Settings) -> dict:
    options = {}
    for name in ("backbone", "weights", "merge"):
        if getattr(settings, name):  # an empty value (--backbone=) clears one set by a flagfile
            options[name] = getattr(settings, name)
    return {**options, **models.parse_options(settings.options)}


def build_model(settings: Settings, num_classes: int, weights_file: str | None = None):
    model = models.build(
        settings.model,
        num_classes=num_classes,
        frames=settings.frames,
        image_size=settings.image_size,
        **model_options(settings),
    )
    if weights_file:
        model.load_weights(weights_file)
    models.freeze(model, settings.freeze)
    return model


def sparse_loss(num_classes: int, smoothing: float):
    """Cross-entropy on integer labels, with optional label smoothing."""
    if not smoothing:
        return keras.losses.SparseCategoricalCrossentropy()
    dense = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    return lambda y, p: dense(keras.ops.one_hot(keras.ops.cast(y, "int32"), num_classes), p)


def optimizer(settings: Settings, steps_per_epoch: int, epochs: int | None = None):
    """AdamW; with --schedule=cosine the rate reaches zero at the end of `epochs` (--epochs)."""
    lr = settings.learning_rate
    if settings.schedule == "cosine":
        warmup = int(settings.warmup_epochs * steps_per_epoch)
        lr = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else lr,
            max((epochs or settings.epochs) * steps_per_epoch - warmup, 1),
            warmup_target=lr if warmup else None,
            warmup_steps=warmup,
        )
    return keras.optimizers.AdamW(lr, weight_decay=settings.weight_decay)


def _distributed(ds):
    options = tf.data.Options()
    # Examples, not files, are sharded between workers: a split may be a single file.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def _worker_dir(path: str) -> str:
    """The chief writes to `path`; other workers to a folder of their own inside it."""
    if distribute.is_chief():
        return path
    task = json.loads(os.environ["TF_CONFIG"])["task"]
    return os.path.join(path, f"{task['type']}_{task['index']}")


def train_fold(settings: Settings, fold: ravdess.Fold, builder, strategy, num_classes: int, run_dir: str) -> dict:
    class_names = ravdess.class_names(num_classes)
    fold_dir = os.path.join(run_dir, f"fold_{fold.number}")
    with strategy.scope():
        model = build_model(settings, num_classes)
    parts = model.frozen_parts()
    if parts:
        result, clips = train_head(settings, fold, builder, model, parts, num_classes, run_dir)
    else:
        result, clips = train_whole(settings, fold, builder, strategy, model, num_classes, fold_dir)
    if distribute.is_chief():
        runs.write_fold(fold_dir, result, clips)
        plots.confusion_matrix(
            result["test"]["clip"]["confusion"],
            class_names,
            os.path.join(fold_dir, "confusion_test.png"),
            f"{settings.model}, fold {fold.number} test actors {fold.test} (clip level)",
        )
        history = _history(os.path.join(fold_dir, "history.csv"))
        plots.training_curves(history, os.path.join(fold_dir, "curves.png"), f"{settings.model}, fold {fold.number}")
    checkpoints.discard(_worker_dir(fold_dir))  # kept until now: a failure before resumes from it
    return result


def _result(settings: Settings, fold: ravdess.Fold, spec, seconds: float, weights: list[str]) -> dict:
    return {
        "fold": fold.number,
        "actors": fold._asdict(),
        "train_seconds": seconds,
        "model": settings.model,
        "options": model_options(settings),
        "frames": spec.frames,
        "config": settings.config,
        "weights": weights,
    }


def train_head(
    settings: Settings, fold: ravdess.Fold, builder, model, parts, num_classes: int, run_dir: str
) -> tuple[dict, dict]:
    """A frozen pretrained encoder: its features are computed once for every clip (cached in
    the run folder, shared by the folds), and only the head (layer weights, pooling,
    classifier) trains on them. Windows are the evaluation windows; nothing is augmented.
    With --refit, a second head trains on training and validation actors for the epochs
    validation chose, and the test actors are scored by the two heads' average."""
    features, head = parts
    class_names = ravdess.class_names(num_classes)
    fold_dir = os.path.join(run_dir, f"fold_{fold.number}")
    spec = windows.WindowSpec.for_model(model, num_classes)
    fold_callbacks, stopwatch = checkpoints.callbacks(
        fold_dir, os.path.join(fold_dir, "best_head.weights.h5"), seed=settings.seed + fold.number
    )
    cache = feature_cache.compute(
        features,
        builder,
        spec,
        settings.feature_cache or os.path.join(run_dir, "feature_cache.npz"),
        settings.batch_size,
    )
    train_x, train_y, _ = feature_cache.inputs(cache, fold.train, spec.speaker_stats)
    val_x, val_y, _ = feature_cache.inputs(cache, fold.validation, spec.speaker_stats)
    head.compile(
        optimizer(settings, max(len(train_y) // settings.batch_size, 1)),
        sparse_loss(num_classes, settings.label_smoothing),
        metrics=["accuracy"],
    )
    logging.info(
        "fold %d: head on cached features, train %s (%d windows), validation %s, test %s",
        fold.number,
        fold.train,
        len(train_y),
        fold.validation,
        fold.test,
    )
    head.fit(
        train_x,
        train_y,
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        shuffle=True,
        validation_data=(val_x, val_y),
        callbacks=fold_callbacks,
        verbose=settings.verbose,
    )
    head.load_weights(os.path.join(fold_dir, "best_head.weights.h5"))
    best = os.path.join(fold_dir, "best.weights.h5")
    model.save_weights(best)  # the whole model, waveform to probabilities, as every run keeps it
    result = _result(settings, fold, spec, stopwatch.seconds, [best])
    tested = head
    if settings.refit:
        epochs = _best_epoch(fold_dir)
        weights, seconds, refit_head = refit_on_cache(
            settings, fold, features, cache, spec, num_classes, fold_dir, epochs
        )
        _add_refit(
            result,
            epochs,
            weights,
            seconds,
            _scores(feature_cache.predict(head, cache, fold.test, spec.speaker_stats), class_names),
        )
        tested = models.Average([head, refit_head])
    clips = {}
    for part, scored, actors in (("validation", head, fold.validation), ("test", tested, fold.test)):
        predicted = feature_cache.predict(scored, cache, actors, spec.speaker_stats)
        result[part], clips[part] = _scores(predicted, class_names), predicted["clip"]
    return result, clips


def refit_on_cache(
    settings: Settings, fold: ravdess.Fold, features, cache: dict, spec, num_classes: int, fold_dir: str, epochs: int
) -> tuple[str, float, keras.Model]:
    """`refit` for a frozen encoder: a fresh head on the cached features of the fold's
    training and validation actors; returns the whole model's weights file, the training
    seconds and the head."""
    model = build_model(settings, num_classes)
    refit_features, head = model.frozen_parts()
    refit_features.set_weights(features.get_weights())  # the encoder the cache was made with
    x, y, _ = feature_cache.inputs(cache, fold.train + fold.validation, spec.speaker_stats)
    head.compile(
        optimizer(settings, max(len(y) // settings.batch_size, 1), epochs),
        sparse_loss(num_classes, settings.label_smoothing),
        metrics=["accuracy"],
    )
    callbacks, stopwatch = checkpoints.callbacks(
        fold_dir, None, prefix="refit_", seed=settings.seed + fold.number + 1000
    )
    logging.info("fold %d: refit head on %s for %d epochs", fold.number, fold.train + fold.validation, epochs)
    head.fit(
        x, y, batch_size=settings.batch_size, epochs=epochs, shuffle=True, callbacks=callbacks, verbose=settings.verbose
    )
    weights = os.path.join(fold_dir, "refit.weights.h5")
    model.save_weights(weights)
    return weights, stopwatch.seconds, head


def _add_refit(result: dict, epochs: int, weights: str, seconds: float, validated_test: dict) -> None:
    """Records a fold's refit in its result; `validated_test`: the test actors' scores by the
    validated model alone, what the refit is measured against."""
    result["weights"].append(weights)
    result["refit"] = {"epochs": epochs, "seconds": seconds, "test_validated_model": validated_test}
    result["train_seconds"] += seconds


def _best_epoch(worker_dir: str) -> int:
    """The epoch (1-based) with the best validation accuracy in the run's history.csv."""
    return int(np.argmax(_history(os.path.join(worker_dir, "history.csv"))["val_accuracy"])) + 1


def train_whole(
    settings: Settings, fold: ravdess.Fold, builder, strategy, model, num_classes: int, fold_dir: str
) -> tuple[dict, dict]:
    class_names = ravdess.class_names(num_classes)
    splits = datasets.splits_of(fold)
    spec = windows.WindowSpec.for_model(model, num_classes)
    train_clips = builder.info.splits[splits["train"]].num_examples
    steps = max(train_clips // settings.batch_size, 1)
    train_ds = _distributed(
        windows.train_dataset(
            builder,
            splits["train"],
            spec,
            settings.batch_size,
            settings.augment,
            seed=settings.seed + fold.number,
            steps=steps,
            epochs=settings.epochs,
            first_epoch=checkpoints.resumed_epochs(_worker_dir(fold_dir)),
        )
    )
    val_windows = windows.eval_dataset(builder, splits["validation"], spec, settings.batch_size, settings.eval_windows)
    with strategy.scope():
        model.compile(
            optimizer(settings, steps),
            sparse_loss(num_classes, settings.label_smoothing),
            metrics=["accuracy"],
            jit_compile=settings.jit_compile,
        )
    best = os.path.join(_worker_dir(fold_dir), "best.weights.h5")
    logging.info(
        "fold %d: train %s (%d clips), validation %s, test %s",
        fold.number,
        fold.train,
        train_clips,
        fold.validation,
        fold.test,
    )
    fold_callbacks, stopwatch = checkpoints.callbacks(_worker_dir(fold_dir), best, seed=settings.seed + fold.number)
    model.fit(
        train_ds,
        epochs=settings.epochs,
        steps_per_epoch=steps,
        callbacks=fold_callbacks,
        shuffle=False,
        validation_data=_distributed(val_windows.map(lambda x, y, n: (x, y))),
        verbose=settings.verbose,
    )
    seconds = stopwatch.seconds
    # Evaluated and exported outside the strategy: a multi-worker model would gather every
    # worker's predictions into each batch.
    validated = build_model(settings, num_classes, best)
    result = _result(settings, fold, spec, seconds, [best])
    tested = validated
    if settings.refit:
        epochs = _best_epoch(_worker_dir(fold_dir))
        weights, seconds = refit(settings, fold, builder, strategy, spec, num_classes, fold_dir, epochs)
        _add_refit(
            result,
            epochs,
            weights,
            seconds,
            _scores(_predict(settings, validated, builder, splits["test"], spec), class_names),
        )
        tested = fold_model(settings, num_classes, result["weights"])
    clips = {}
    for part, scored in (("validation", validated), ("test", tested)):
        predicted = _predict(settings, scored, builder, splits[part], spec)
        result[part], clips[part] = _scores(predicted, class_names), predicted["clip"]
    return result, clips


def _predict(settings: Settings, model, builder, split: str, spec) -> dict:
    return predictions.predict_clips(
        model, windows.eval_dataset(builder, split, spec, settings.batch_size, settings.eval_windows)
    )


def _scores(predicted: dict, class_names) -> dict:
    return {
        "window": metrics.summarize(*predicted["window"], class_names),
        "clip": metrics.summarize(*predicted["clip"][:2], class_names),
    }


def refit(
    settings: Settings, fold: ravdess.Fold, builder, strategy, spec, num_classes: int, fold_dir: str, epochs: int
) -> tuple[str, float]:
    """Trains a fresh model on the fold's training and validation actors for the `epochs`
    epochs validation chose, its learning-rate schedule compressed to end there; returns its
    weights file and training seconds. Nothing in it looks at the test actors, and it learns
    from 16 actors instead of 12 on a 20-actor set."""
    splits = datasets.splits_of(fold)
    split = f"{splits['train']}+{splits['validation']}"
    steps = max(builder.info.splits[split].num_examples // settings.batch_size, 1)
    with strategy.scope():
        model = build_model(settings, num_classes)
        # Annealed over its own epochs: stopped part-way through the validated run's schedule
        # (fold 1 at --epochs=80 stopped at 59) it is a model at a still-high learning rate.
        model.compile(
            optimizer(settings, steps, epochs),
            sparse_loss(num_classes, settings.label_smoothing),
            metrics=["accuracy"],
            jit_compile=settings.jit_compile,
        )
    train_ds = _distributed(
        windows.train_dataset(
            builder,
            split,
            spec,
            settings.batch_size,
            settings.augment,
            seed=settings.seed + fold.number + 1000,
            steps=steps,
            epochs=epochs,
            first_epoch=checkpoints.resumed_epochs(_worker_dir(fold_dir), "refit_"),
        )
    )
    callbacks, stopwatch = checkpoints.callbacks(
        _worker_dir(fold_dir), None, prefix="refit_", seed=settings.seed + fold.number + 1000
    )
    logging.info("fold %d: refit on %s for %d epochs", fold.number, fold.train + fold.validation, epochs)
    model.fit(
        train_ds, epochs=epochs, steps_per_epoch=steps, callbacks=callbacks, shuffle=False, verbose=settings.verbose
    )
    weights = os.path.join(_worker_dir(fold_dir), "refit.weights.h5")
    model.save_weights(weights)
    return weights, stopwatch.seconds


def fold_model(settings: Settings, num_classes: int, weight_files: list[str]):
    """A fold's final model: the validated one, or with --refit the average of both."""
    fold_models = [build_model(settings, num_classes, w) for w in weight_files]
    return fold_models[0] if len(fold_models) == 1 else models.Average(fold_models)


def _history(path: str) -> dict:
    """history.csv (appended across restarts) as lists per metric."""
    import csv

    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {key: [float(r[key]) for r in rows] for key in (rows[0] if rows else {}) if key != "epoch"}


def summarize_folds(settings: Settings, results: list[dict], run_dir: str) -> dict:
    extra = {}
    if all("refit" in r for r in results):
        # What the refit added: the same test actors scored by the validated model alone.
        extra.update(
            metrics.over_folds(
                [r["refit"]["test_validated_model"]["clip"] for r in results], "test_validated_model_clip"
            )
        )
        extra["refit_epochs"] = metrics.mean_and_spread([r["refit"]["epochs"] for r in results])
    return runs.write_summary(run_dir, results, settings.model, settings.config, int(settings.classes), **extra)


def check_buildable(settings: Settings, num_classes: int) -> None:
    """Builds the model once before any work: an option's value that Keras's layers refuse
    (lstm_units=-5), a --freeze name that matches no layer, or a pretrained start that cannot be
    read is said here, before the run's folder and lock are made, not in its first fold."""
    try:
        build_model(settings, num_classes)
    except UserError:
        raise
    except ValueError as error:  # a Keras layer's check of its arguments, which the options set
        raise UserError(
            f"--model={settings.model} cannot be built with these flags ({str(error).splitlines()[0]}): "
            "check --options, --frames and --image_size"
        ) from None
    keras.backend.clear_session()  # the trained model's layer names as if this one had not been built


def main(argv):
    del argv
    run(Settings.from_flags())


def run(settings: Settings) -> dict:
    """Trains `settings.model` on the folds asked for; returns the summary over them."""
    if not settings.model:
        raise app.UsageError(f"--model is required; one of {models.names()}")
    try:
        models.check_name(settings.model)
    except UserError as error:
        raise UserError(f"--model={settings.model} is not a model ({error})") from None
    models.check_options(settings.model, model_options(settings))
    num_classes = int(settings.classes)
    # Before anything runs on TensorFlow: a multi-worker strategy configures collective ops,
    # which TensorFlow allows only at program startup, before its context is made.
    strategy = distribute.strategy(settings.strategy, settings.tpu)
    check_buildable(settings, num_classes)
    keras.utils.set_random_seed(settings.seed)
    if settings.mixed_precision:
        keras.mixed_precision.set_global_policy(
            "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
        )
    builder = datasets.load_builder(settings.data_dir, settings.config, settings.dataset)
    actors = datasets.actors_of(builder)
    num_folds = settings.num_folds or (6 if len(actors) == 24 else max(3, len(actors) // 4))
    folds = ravdess.folds(num_folds, actors)
    if settings.fold > len(folds):
        raise app.UsageError(
            f"--fold={settings.fold}: {settings.dataset}/{settings.config} here has {len(folds)} folds "
            f"({len(actors)} actors): give 1..{len(folds)}, or 0 for all of them"
        )
    chosen = folds if settings.fold == 0 else [folds[settings.fold - 1]]
    run_dir = os.path.expanduser(settings.model_dir or os.path.join("runs", settings.model.replace("+", "_")))
    for flag, folder in (("model_dir", run_dir), ("export_dir", settings.export_dir)):
        if folder:  # said now, not after the training
            folders.refuse_unwritable(f"--{flag}={folder}", folder)
    if distribute.is_chief():
        run_lock.hold(run_dir, "model_dir")
    print(  # the replicas, where a user sees them: absl's INFO log is off by default
        f"{settings.model} on {settings.dataset}/{settings.config} ({len(actors)} actors), "
        f"{type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s), "
        f"folds {[f.number for f in chosen]}",
        flush=True,
    )

    try:
        results = [train_fold(settings, fold, builder, strategy, num_classes, run_dir) for fold in chosen]
    except tf.errors.DataLossError as error:
        damaged = datasets.damaged_files(builder)
        raise UserError(
            f"{', '.join(damaged) or builder.data_dir}: damaged ({error.message.splitlines()[0]}); "
            "the fold's backup is kept: rebuild the dataset (tfds build ... --overwrite) and run the "
            "same command again to go on"
        ) from None
    summary = summarize_folds(settings, results, run_dir)
    exported = None
    if settings.export_dir and distribute.is_chief():
        best = max(results, key=lambda r: r["validation"]["clip"]["accuracy"])
        exported = export.export(
            fold_model(settings, num_classes, best["weights"]),
            settings.export_dir,
            settings.export_name or settings.model.replace("+", "_"),
            ravdess.class_names(num_classes),
            metadata={
                "fold": best["fold"],
                "fps": FPS,
                "run_dir": run_dir,
                # How the training crops were made: the predictor crops alike.
                "face_pipeline": (builder.info.metadata or {}).get("face_pipeline"),
            },
        )
    test, val = summary["test_clip_accuracy"], summary["validation_clip_accuracy"]
    print(
        f"{settings.model} on {settings.dataset}/{settings.config}, {len(results)} fold(s): clip-level test accuracy "
        f"{test['mean']:.3f} ± {test['std']:.3f} (UAR {summary['test_clip_uar']['mean']:.3f}), validation "
        f"{val['mean']:.3f}; {summary['train_seconds']['mean']:.0f} s per fold; run in {run_dir}"
        + (f"; exported to {exported}" if exported else "")
    )
    return summary


if __name__ == "__main__":
    trainers.run(main, "trainers.train")
