"""What a fold keeps so that a killed run resumes without losing or repeating anything: a
backup of each finished epoch (weights, optimizer and the epoch count, written whole before
it counts), the history rows of exactly the epochs the backup holds, and the training seconds
of every process that worked on it."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time

import h5py
import keras
from absl import app

WEIGHTS, METADATA = "backup.weights.h5", "training_metadata.json"
_EPOCH = re.compile(r"epoch_(\d+)$")


def _readable(path: str) -> bool:
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def _epoch_folders(backup: str) -> list[tuple[int, str]]:
    """(epochs, folder) of each whole epoch in the backup, oldest first: a folder is named
    epoch_N only once its weights and metadata are both written."""
    names = os.listdir(backup) if os.path.isdir(backup) else []
    found = [(int(m.group(1)), os.path.join(backup, n)) for n in names if (m := _EPOCH.match(n))]
    return sorted(found)


def _restorable(backup: str) -> tuple[int, str] | None:
    """The newest epoch folder whose files open (the one before, should a disk have damaged
    the newest), None without any; UsageError when there are some and none opens."""
    folders = _epoch_folders(backup)
    for epochs, folder in reversed(folders[-2:]):
        try:
            with open(os.path.join(folder, METADATA)) as f:
                if int(json.load(f)["epoch"]) == epochs and _readable(os.path.join(folder, WEIGHTS)):
                    return epochs, folder
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if folders:
        raise app.UsageError(
            f"the backup in {backup} is damaged (neither of its last two epochs opens): remove "
            "that folder to train this fold again from the start"
        )
    return None


def backed_up_epochs(backup: str) -> int | None:
    """Epochs the backup holds (the ones a resumed run starts after), None when there is none."""
    found = _restorable(backup)
    return found[0] if found else None


class Backup(keras.callbacks.Callback):
    """Keras' BackupAndRestore, written so that no kill leaves a state a resume misreads: each
    epoch's weights and count go to a folder of their own, renamed to epoch_N once both are
    written, so a folder holds one epoch whole or is not there (Keras writes the weights, then
    the count: a kill between them resumed epoch N's weights as epoch N-1's, and trained
    epoch N twice). The epoch before is kept, to fall back on."""

    def __init__(self, backup: str):
        super().__init__()
        self.backup = backup

    def on_train_begin(self, logs=None):
        found = _restorable(self.backup)
        if found is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # its variables are in the file too
        self.model.load_weights(os.path.join(found[1], WEIGHTS))
        self.model._initial_epoch = found[0]  # as Keras' BackupAndRestore resumes fit

    def on_epoch_end(self, epoch, logs=None):
        folder = os.path.join(self.backup, f"epoch_{epoch + 1}")
        partial = folder + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        self.model.save_weights(os.path.join(partial, WEIGHTS))
        with open(os.path.join(partial, METADATA), "w") as f:
            json.dump({"epoch": epoch + 1}, f)
        os.replace(partial, folder)
        stale = [old for _, old in _epoch_folders(self.backup)[:-2]]
        stale += [os.path.join(self.backup, n) for n in os.listdir(self.backup) if n.endswith(".partial")]
        for old in stale:  # what a kill left half-written, and epochs before the last two
            shutil.rmtree(old, ignore_errors=True)


def discard(fold_dir: str) -> None:
    """The fold's backups, once its results are written: a run that fails before (a damaged
    test shard) resumes from them instead of training again."""
    for name in ("backup", "refit_backup"):
        shutil.rmtree(os.path.join(fold_dir, name), ignore_errors=True)


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
        generators = [
            value
            for layer in self.model._flatten_layers(include_self=True, recursive=True)
            for value in vars(layer).values()
            if isinstance(value, keras.random.SeedGenerator)
        ]
        for i, generator in enumerate(generators):
            generator.state.assign(
                keras.ops.convert_to_tensor([(self.seed * 1_000_003 + epoch) % 2**31, i], generator.state.dtype)
            )


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
        kept.append(
            keras.callbacks.ModelCheckpoint(
                best,
                monitor="val_accuracy",
                save_best_only=True,
                save_weights_only=True,
                initial_value_threshold=best_so_far,
            )
        )
        kept.append(keras.callbacks.TensorBoard(os.path.join(fold_dir, f"{prefix}logs")))
    kept.append(Backup(backup))  # last: after the epoch's records
    return kept, stopwatch
