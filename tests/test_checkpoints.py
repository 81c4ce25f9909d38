"""trainers.checkpoints: a resumed fold keeps exactly the epochs its backup holds, falls back
from a damaged backup or says what to remove, and adds up every process's training time."""
import csv
import json

import h5py
import numpy as np
import pytest
from absl import app

from trainers import checkpoints


def _backup(fold_dir, epochs, damaged=(), previous=None):
    backup = fold_dir / "backup"
    backup.mkdir(parents=True)
    for name, epoch in (("latest.weights.h5", epochs), ("latest.weights.h5.bkp", previous)):
        if epoch is None:
            continue
        if name in damaged:
            (backup / name).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)  # half-written
        else:
            with h5py.File(backup / name, "w") as f:
                f["w"] = np.zeros(3)
        metadata = "training_metadata.json" + (".bkp" if name.endswith(".bkp") else "")
        (backup / metadata).write_text(json.dumps({"epoch": epoch, "batch": 0}))


def _history(fold_dir, epochs, accuracies):
    with open(fold_dir / "history.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "accuracy", "val_accuracy"])
        writer.writerows([e, 0.5, a] for e, a in zip(epochs, accuracies))


def _epochs(fold_dir):
    with open(fold_dir / "history.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_rows_past_the_backup_are_dropped_and_the_best_so_far_is_kept(tmp_path):
    # Killed after epoch 4's row was written but before its backup: the backup holds 4 epochs.
    _backup(tmp_path, 4)
    _history(tmp_path, range(5), [0.2, 0.6, 0.4, 0.5, 0.9])
    callbacks, _ = checkpoints.callbacks(str(tmp_path), str(tmp_path / "best.weights.h5"))
    assert _epochs(tmp_path) == [0, 1, 2, 3]  # epoch 4 runs again: no lost, no doubled row
    best = next(c for c in callbacks if type(c).__name__ == "ModelCheckpoint")
    assert best.best == pytest.approx(0.6)  # epoch 4's 0.9 is gone with its row


def test_a_new_run_starts_a_new_history(tmp_path):
    _history(tmp_path, range(3), [0.1, 0.2, 0.3])
    checkpoints.callbacks(str(tmp_path), None)
    assert not (tmp_path / "history.csv").exists()


def test_a_damaged_backup_falls_back_to_the_epoch_before(tmp_path):
    _backup(tmp_path, 6, damaged=("latest.weights.h5",), previous=5)
    assert checkpoints.backed_up_epochs(str(tmp_path / "backup")) == 5


def test_a_backup_with_no_good_copy_says_what_to_remove(tmp_path):
    _backup(tmp_path, 6, damaged=("latest.weights.h5", "latest.weights.h5.bkp"), previous=5)
    with pytest.raises(app.UsageError, match=f"{tmp_path / 'backup'} is damaged .* remove that folder"):
        checkpoints.backed_up_epochs(str(tmp_path / "backup"))


def test_training_seconds_add_up_over_processes(tmp_path):
    path = tmp_path / "train_seconds.json"
    path.write_text(json.dumps({"seconds": 100.0}))
    assert checkpoints.Stopwatch(str(path), resumed=True).seconds >= 100.0
    assert checkpoints.Stopwatch(str(path), resumed=False).seconds < 100.0
