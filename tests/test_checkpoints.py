"""trainers.checkpoints: a resumed fold keeps exactly the epochs its backup holds, falls back
from a damaged backup or says what to remove, and adds up every process's training time."""

import csv
import json

import h5py
import keras
import numpy as np
import pytest
from absl import app

from trainers import checkpoints


def _backup(fold_dir, epochs, damaged=(), previous=None):
    """Epoch folders as `checkpoints.Backup` writes them; `damaged` names the epochs whose
    weights were half-written."""
    for epoch in (previous, epochs):
        if epoch is None:
            continue
        folder = fold_dir / "backup" / f"epoch_{epoch}"
        folder.mkdir(parents=True)
        if epoch in damaged:
            (folder / checkpoints.WEIGHTS).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
        else:
            with h5py.File(folder / checkpoints.WEIGHTS, "w") as f:
                f["w"] = np.zeros(3)
        (folder / checkpoints.METADATA).write_text(json.dumps({"epoch": epoch}))


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
    _backup(tmp_path, 6, damaged=(6,), previous=5)
    assert checkpoints.backed_up_epochs(str(tmp_path / "backup")) == 5


@pytest.mark.parametrize("spoil", ["weights", "empty metadata"])
def test_a_backup_with_no_good_copy_says_what_to_remove(tmp_path, spoil):
    _backup(tmp_path, 6, damaged=(5, 6) if spoil == "weights" else (), previous=5)
    if spoil == "empty metadata":
        for epoch in (5, 6):
            (tmp_path / "backup" / f"epoch_{epoch}" / checkpoints.METADATA).write_text("")
    with pytest.raises(app.UsageError, match=f"{tmp_path / 'backup'} is damaged .* remove that folder"):
        checkpoints.backed_up_epochs(str(tmp_path / "backup"))


class _Killed(BaseException):
    """What SIGKILL does to the writer at that point: nothing after it runs."""


def _kill_at(point):
    """Patches for `Backup.on_epoch_end` that stop it at `point`."""
    import os

    def stop(*args, **kwargs):
        raise _Killed

    def half_weights(self, path, *args, **kwargs):
        open(path, "wb").write(b"\x89HDF\r\n\x1a\n" + b"\x00" * 10)
        raise _Killed

    return {
        "half-written weights": [(keras.Model, "save_weights", half_weights)],
        "weights, no metadata": [(json, "dump", stop)],
        "both, not renamed": [(os, "replace", stop)],
        "renamed, older kept": [(checkpoints, "_epoch_folders", stop)],
    }[point]  # read after the rename


@pytest.mark.parametrize(
    "point, resumes_after",
    [("half-written weights", 2), ("weights, no metadata", 2), ("both, not renamed", 2), ("renamed, older kept", 3)],
)
def test_a_kill_at_any_point_of_a_backup_resumes_one_whole_epoch(tmp_path, monkeypatch, point, resumes_after):
    """Epochs 1 and 2 backed up, then epoch 3's backup stopped at `point`: the resumed run
    takes epoch 2's weights as epoch 2's (or epoch 3's, once its folder is whole), never one
    epoch's weights with another's count."""

    def model(seed):
        keras.utils.set_random_seed(seed)
        m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        m.compile("adam", "mse")
        return m

    backup, trained = str(tmp_path / "backup"), model(0)
    writer, weights = checkpoints.Backup(backup), {}
    writer.set_model(trained)
    for epoch in range(3):
        trained.layers[0].kernel.assign(np.full((3, 2), epoch + 1.0))
        weights[epoch + 1] = trained.get_weights()
        if epoch == 2:
            for owner, name, patch in _kill_at(point):
                monkeypatch.setattr(owner, name, patch)
            with pytest.raises(_Killed):
                writer.on_epoch_end(epoch)
            monkeypatch.undo()
        else:
            writer.on_epoch_end(epoch)

    assert checkpoints.backed_up_epochs(backup) == resumes_after
    resumed = model(1)
    reader = checkpoints.Backup(backup)
    reader.set_model(resumed)
    reader.on_train_begin()
    assert resumed._initial_epoch == resumes_after
    for got, wanted in zip(resumed.get_weights(), weights[resumes_after]):
        np.testing.assert_array_equal(got, wanted)
    reader.on_epoch_end(3)  # the run goes on: the last two whole epochs are kept, nothing half-written
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == [f"epoch_{resumes_after}", "epoch_4"]


def test_training_seconds_add_up_over_processes(tmp_path):
    path = tmp_path / "train_seconds.json"
    path.write_text(json.dumps({"seconds": 100.0}))
    assert checkpoints.Stopwatch(str(path), resumed=True).seconds >= 100.0
    assert checkpoints.Stopwatch(str(path), resumed=False).seconds < 100.0
