"""What a fold keeps so that a killed run resumes without losing or repeating anything:
Keras' backup (the last two epochs' weights and optimizer), the history rows of exactly the
epochs the backup holds, and the training seconds of every process that worked on it."""
from __future__ import annotations

import csv
import json
import os
import time

import h5py
import keras
from absl import app


def _readable(path: str) -> bool:
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def backed_up_epochs(backup: str) -> int | None:
    """Epochs the backup holds (the one Keras will restore: the latest, or the one before it
    when the latest is damaged), None when there is no backup."""
    latest, metadata = os.path.join(backup, "latest.weights.h5"), os.path.join(backup, "training_metadata.json")
    if not os.path.exists(latest):
        return None
    # Keras keeps the epoch before as `.bkp` copies (double_checkpoint) and falls back to them.
    for weights, epochs in ((latest, metadata), (latest + ".bkp", metadata + ".bkp")):
        if _readable(weights) and os.path.exists(epochs):
            with open(epochs) as f:
                return int(json.load(f)["epoch"])
    raise app.UsageError(f"the backup in {backup} is damaged (neither of its weight files opens): remove that "
                         "folder to train this fold again from the start")


def resumed_epochs(fold_dir: str, prefix: str = "") -> int:
    """Epochs a resumed run of this fold (or its refit, prefix 'refit_') starts after; 0 for a new run."""
    return backed_up_epochs(os.path.join(fold_dir, f"{prefix}backup")) or 0


def _keep_epochs(history_csv: str, epochs: int) -> float | None:
    """Drops history rows of epochs past the backup's (they run again); returns the best
    validation accuracy of the rows kept."""
    with open(history_csv, newline="") as f:
        rows = list(csv.DictReader(f))
        header = rows and list(rows[0])
    kept = [row for row in rows if int(row["epoch"]) < epochs]
    if len(kept) != len(rows):
        with open(history_csv, "w", newline="") as f:
            writer = csv.DictWriter(f, header)
            writer.writeheader()
            writer.writerows(kept)
    scores = [float(row["val_accuracy"]) for row in kept if row.get("val_accuracy")]
    return max(scores, default=None)


class Stopwatch(keras.callbacks.Callback):
    """Training seconds, carried over from the processes before a resume."""

    def __init__(self, path: str, resumed: bool):
        super().__init__()
        self.path = path
        self.before = 0.0
        if resumed and os.path.exists(path):
            with open(path) as f:
                self.before = json.load(f)["seconds"]
        self.start = time.time()

    @property
    def seconds(self) -> float:
        return self.before + time.time() - self.start

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path + ".tmp", "w") as f:
            json.dump({"seconds": self.seconds}, f)
        os.replace(self.path + ".tmp", self.path)


class EpochSeeds(keras.callbacks.Callback):
    """Sets every random layer's seed state (dropout, stretches) to a function of the run's
    seed and the epoch when the epoch begins: Keras' backups do not keep those states, and a
    resumed run must draw what the uninterrupted one draws."""

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        generators = [value for layer in self.model._flatten_layers(include_self=True, recursive=True)
                      for value in vars(layer).values() if isinstance(value, keras.random.SeedGenerator)]
        for i, generator in enumerate(generators):
            generator.state.assign(keras.ops.convert_to_tensor(
                [(self.seed * 1_000_003 + epoch) % 2**31, i], generator.state.dtype))


def callbacks(fold_dir: str, best: str, prefix: str = "", seed: int = 0) -> tuple[list, Stopwatch]:
    """The fold's callbacks and its stopwatch. The history row and the seconds of an epoch
    are written before its backup: a kill in between runs that epoch again, and its row is
    dropped here, so no epoch is lost or repeated."""
    os.makedirs(fold_dir, exist_ok=True)
    backup = os.path.join(fold_dir, f"{prefix}backup")
    history_csv = os.path.join(fold_dir, f"{prefix}history.csv")
    done, best_so_far = backed_up_epochs(backup), None
    if os.path.exists(history_csv):
        if done is None:
            os.remove(history_csv)  # a finished run's curves: this is a new run, not a resumed one
        else:
            best_so_far = _keep_epochs(history_csv, done)
    stopwatch = Stopwatch(os.path.join(fold_dir, f"{prefix}train_seconds.json"), resumed=done is not None)
    kept = [EpochSeeds(seed), keras.callbacks.CSVLogger(history_csv, append=True), stopwatch]
    if best:
        # A resumed run keeps the best epoch of the processes before it unless it does better.
        kept.append(keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", save_best_only=True,
                                                    save_weights_only=True, initial_value_threshold=best_so_far))
        kept.append(keras.callbacks.TensorBoard(os.path.join(fold_dir, f"{prefix}logs")))
    kept.append(keras.callbacks.BackupAndRestore(backup, double_checkpoint=True))  # last: after the epoch's records
    return kept, stopwatch
