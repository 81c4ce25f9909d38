"""trainers.train end to end on a tiny built dataset: metrics, plots, export, serving,
resuming after a kill, and MultiWorkerMirroredStrategy with two real worker processes."""

import concurrent.futures
import csv
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds
from absl import flags

from datasets.ravdess import ravdess_dataset_builder
from emorec import metrics, models, serving, synthetic
from emorec.errors import UserError
from emorec.data import augmentation, datasets, windows
from emorec.evaluation import predictions

import one_process
from conftest import ROOT
from trainers import checkpoints

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """ravdess/av built from a synthetic sample of 3 actors x 3 emotions."""
    root = tmp_path_factory.mktemp("train")
    synthetic.make_sample(
        str(root / "sample"),
        synthetic.clips(actors=(1, 2, 3), emotions=(1, 5, 8), statements=(1, 2), modalities=(1,)),
        duration=1.0,
        size=(160, 120),
    )
    builder = ravdess_dataset_builder.Builder(data_dir=str(root / "data"), config="av")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root / "sample")))
    return root / "data"


def train_command(data_dir, model_dir, *flags):
    return [
        sys.executable,
        "-m",
        "trainers.train",
        f"--data_dir={data_dir}",
        "--config=av",
        f"--model_dir={model_dir}",
        "--batch_size=4",
        "--verbose=0",
        "--frames=8",
        "--image_size=32",
        *flags,
    ]


def train(data_dir, model_dir, *flags, env=None, check=True, **kwargs):
    run = subprocess.run(
        train_command(data_dir, model_dir, *flags), cwd=ROOT, env=env or ENV, capture_output=True, text=True, **kwargs
    )
    if check and run.returncode:  # the trainer's own words, which CalledProcessError would not show
        raise AssertionError(f"trainers.train exited {run.returncode}:\n{run.stderr[-3000:]}")
    return run


UNINTERRUPTED = ["--model=wave_cnn1d", "--fold=1", "--epochs=8"]


@pytest.fixture(scope="module")
def uninterrupted(built, tmp_path_factory):
    """A run of UNINTERRUPTED, exported: (its folder, the trainer's process). The train-writes
    test checks what it wrote, and the resumed-run test compares a killed run with it (the export
    comes after the training and leaves it as it is): one trainer process for the two, where a
    process took 12 s here before its first epoch."""
    root = tmp_path_factory.mktemp("uninterrupted")
    return root, train(built, root / "run", *UNINTERRUPTED, f"--export_dir={root / 'exports'}", "--export_name=audio")


def test_train_writes_metrics_plots_and_an_export_that_serves(uninterrupted):
    tmp_path, run = uninterrupted
    assert "clip-level test accuracy" in run.stdout
    fold = tmp_path / "run" / "fold_1"
    result = json.loads((fold / "metrics.json").read_text())
    assert result["actors"]["test"] == [1] and result["actors"]["validation"] == [2]
    for part in ("validation", "test"):
        for level in ("window", "clip"):
            assert set(result[part][level]) >= {"accuracy", "uar", "macro_f1", "per_class", "confusion"}
    assert result["test"]["clip"]["examples"] == 6  # actor 1's clips
    assert result["test"]["window"]["examples"] > result["test"]["clip"]["examples"]
    kept = predictions.load(str(fold))  # what emorec.evaluation reads
    assert [n[-2:] for n in kept["test"][2]] == ["01"] * 6 and [n[-2:] for n in kept["validation"][2]] == ["02"] * 6
    probabilities, labels, _ = kept["test"]
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert np.mean(probabilities.argmax(1) == labels) == result["test"]["clip"]["accuracy"]
    for png in ("confusion_test.png", "curves.png"):
        assert (fold / png).read_bytes()[:4] == b"\x89PNG"
    assert list((fold / "logs").rglob("events.out.tfevents*"))

    export = tmp_path / "exports" / "audio" / "1"
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")  # installed beside TensorFlow
    shown = subprocess.run(
        [cli, "show", "--dir", str(export), "--tag_set", "serve", "--signature_def", "serving_default"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert "inputs['waveform']" in shown.stdout and "outputs['probabilities']" in shown.stdout
    assert "outputs['labels']" in shown.stdout

    model = models.build("wave_cnn1d", num_classes=8, frames=8, image_size=32)
    model.load_weights(fold / "best.weights.h5")
    waveform = np.random.default_rng(0).normal(0, 0.1, (3, model.inputs[0].shape[1])).astype("float32")
    local = serving.LocalModel(str(export))
    out = local.predict({"waveform": waveform})
    np.testing.assert_allclose(out["probabilities"], model.predict({"waveform": waveform}, verbose=0), atol=1e-5)
    assert [label.decode() for label in out["labels"]] == [
        ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")[i]
        for i in out["probabilities"].argmax(1)
    ]
    with pytest.raises(ValueError, match=r"expected shape \[batch, 4271\]"):
        local.predict({"waveform": waveform[:, :100]})
    with pytest.raises(ValueError, match="missing \\['waveform'\\]"):
        local.predict({"faces": np.zeros((1, 8, 32, 32, 3), np.uint8)})


def test_refit_trains_on_validation_actors_too_and_exports_the_average(built, tmp_path):
    train(
        built,
        tmp_path / "run",
        "--model=wave_cnn1d",
        "--fold=1",
        "--epochs=4",
        "--refit",
        f"--export_dir={tmp_path / 'exports'}",
        "--export_name=audio",
    )
    fold = tmp_path / "run" / "fold_1"
    result = json.loads((fold / "metrics.json").read_text())
    with open(fold / "history.csv") as f:
        validation = [float(row["val_accuracy"]) for row in csv.DictReader(f)]
    assert result["refit"]["epochs"] == int(np.argmax(validation)) + 1
    assert len(_history_epochs(fold / "refit_history.csv")) == result["refit"]["epochs"]
    assert result["train_seconds"] > result["refit"]["seconds"] > 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test_validated_model_clip_accuracy"]["values"] == [
        result["refit"]["test_validated_model"]["clip"]["accuracy"]
    ]

    members = []
    for weights in ("best.weights.h5", "refit.weights.h5"):
        members.append(models.build("wave_cnn1d", num_classes=8, frames=8, image_size=32))
        members[-1].load_weights(fold / weights)
    waveform = np.random.default_rng(1).normal(0, 0.1, (2, members[0].inputs[0].shape[1])).astype("float32")
    each = [m.predict({"waveform": waveform}, verbose=0) for m in members]
    assert np.abs(each[0] - each[1]).max() > 1e-4  # two different models
    served = serving.LocalModel(str(tmp_path / "exports" / "audio" / "1")).predict({"waveform": waveform})
    np.testing.assert_allclose(served["probabilities"], (each[0] + each[1]) / 2, atol=1e-5)


def _history_epochs(path):
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_a_resumed_run_draws_what_the_uninterrupted_one_draws(built, uninterrupted, tmp_path):
    """A run killed (SIGKILL) resumes where it stopped, not from the start; and as data order,
    windows, augmentation and dropout are seeded per epoch, it trains every epoch as the
    uninterrupted run did: the same losses to 1e-6 for all 8 epochs. (With tf.data's default
    reshuffling, the runs parted at epoch 7.)"""
    flags = UNINTERRUPTED
    history = tmp_path / "killed" / "fold_1" / "history.csv"
    process = subprocess.Popen(
        train_command(built, tmp_path / "killed", *flags),
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 180
    while time.time() < deadline and not (history.exists() and len(_history_epochs(history)) >= 3):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    resumed_from = checkpoints.backed_up_epochs(str(tmp_path / "killed" / "fold_1" / "backup"))
    assert 1 <= resumed_from <= 6
    first = json.loads((tmp_path / "killed" / "fold_1" / "train_seconds.json").read_text())["seconds"]
    train(built, tmp_path / "killed", *flags)
    assert _history_epochs(history) == list(range(8)), "restarted instead of resuming"
    # Both processes' training time, not the last one's alone.
    assert json.loads((tmp_path / "killed" / "fold_1" / "metrics.json").read_text())["train_seconds"] > first

    def losses(run_dir):
        with open(run_dir / "fold_1" / "history.csv") as f:
            return {int(r["epoch"]): (float(r["loss"]), float(r["val_loss"])) for r in csv.DictReader(f)}

    whole, killed = losses(uninterrupted[0] / "run"), losses(tmp_path / "killed")
    assert sorted(killed) == list(range(8))
    for epoch in range(8):
        assert killed[epoch] == pytest.approx(whole[epoch], rel=1e-6, abs=1e-9), epoch


def test_a_damaged_test_shard_is_named_and_the_training_is_not_lost(built, tmp_path):
    """A shard read only after training (the test actor's) stops the run in one line naming it;
    the backup is kept, so once the shard is whole again the same command scores the fold
    without training it again."""
    data = tmp_path / "data"
    shutil.copytree(built, data)
    [shard] = (data / "ravdess" / "av").glob("*/ravdess-actor_01.tfrecord*")  # fold 1 tests actor 1
    whole = shard.read_bytes()
    shard.write_bytes(whole[:100] + bytes(b ^ 0xFF for b in whole[100:200]) + whole[200:])
    flags = ["--model=wave_cnn1d", "--fold=1", "--epochs=2"]
    run = train(data, tmp_path / "run", *flags, check=False)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert f"{shard}: damaged" in run.stderr and "the fold's backup is kept" in run.stderr
    assert checkpoints.backed_up_epochs(str(tmp_path / "run" / "fold_1" / "backup")) == 2
    shard.write_bytes(whole)
    train(data, tmp_path / "run", *flags)
    assert _history_epochs(tmp_path / "run" / "fold_1" / "history.csv") == [0, 1]  # not trained again
    assert json.loads((tmp_path / "run" / "fold_1" / "metrics.json").read_text())["test"]["clip"]["examples"] == 6
    assert not (tmp_path / "run" / "fold_1" / "backup").exists()  # done with once the fold's results are written


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow  # two trainer processes and their cluster: 36-58 s here
def test_multi_worker_training_with_two_processes(built, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}

    def worker(index):
        env = {**ENV, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        return train(
            built,
            tmp_path / "run",
            "--model=wave_cnn1d",
            "--fold=1",
            "--epochs=2",
            "--strategy=multi_worker",
            env=env,
            check=False,
            timeout=300,
        )

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(worker, (0, 1)))
    for index, result in enumerate(results):
        assert result.returncode == 0, f"worker {index} failed:\n{result.stderr[-3000:]}"
    assert "MultiWorkerMirroredStrategy with 2 replica(s)" in results[0].stdout
    chief = models.build("wave_cnn1d", frames=8)
    chief.load_weights(tmp_path / "run" / "fold_1" / "best.weights.h5")
    other = models.build("wave_cnn1d", frames=8)
    other.load_weights(tmp_path / "run" / "fold_1" / "worker_1" / "best.weights.h5")
    for a, b in zip(chief.get_weights(), other.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert (tmp_path / "run" / "fold_1" / "metrics.json").exists()


def test_compare_tables_and_plots_runs(tmp_path):
    for name, accuracies in (("audio", [0.6, 0.7]), ("video", [0.4, 0.5])):
        run = tmp_path / name
        run.mkdir()
        summary = {"model": "mel_cnn2d" if name == "audio" else "r3d", "config": "av", "classes": 8, "folds": 2}
        for key in (
            "test_clip_accuracy",
            "test_clip_uar",
            "test_clip_macro_f1",
            "validation_clip_accuracy",
            "train_seconds",
        ):
            summary[key] = metrics.mean_and_spread(accuracies)
        (run / "summary.json").write_text(json.dumps(summary))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "emorec.evaluation",
            "compare",
            str(tmp_path / "audio"),
            str(tmp_path / "video"),
            f"--plot={tmp_path / 'cmp.png'}",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line for line in out.stdout.splitlines() if line.startswith("| audio") or line.startswith("| video")]
    assert rows[0].startswith("| audio | mel_cnn2d | audio | 2 | 0.650 ± 0.071")
    assert rows[1].startswith("| video | r3d | video |")
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"


def test_metrics_against_hand_counts():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.eye(3)[[0, 1, 1, 1, 0, 2]]
    m = metrics.summarize(probabilities, labels, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["uar"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_fold_splits_and_windows(built):
    builder = datasets.load_builder(str(built), "av")
    assert datasets.actors_of(builder) == [1, 2, 3]
    splits = datasets.fold_splits(2, 3, [1, 2, 3])
    assert splits == {"train": "actor_01", "validation": "actor_03", "test": "actor_02"}
    spec = windows.WindowSpec(frames=8, image_size=32)
    x, y = next(iter(windows.train_dataset(builder, "actor_01", spec, batch_size=4)))
    assert x["faces"].shape == (4, 8, 32, 32, 3) and x["waveform"].shape == (4, spec.samples)
    evaluated = list(windows.eval_dataset(builder, "actor_01", spec, batch_size=64).unbatch())
    per_clip = len(evaluated) / 6
    assert per_clip == (30 - 8) // 4 + 1  # 1 s clips, windows 4 frames apart
    # Only a window's frames are decoded: the same pixels as TFDS's decoding of the whole clip.
    clips = {e["name"]: e["faces"] for e in tfds.as_numpy(builder.as_dataset(split="actor_01"))}
    stored = windows.WindowSpec(frames=8, image_size=clips[evaluated[0][2].numpy()].shape[1])
    for (inputs, _, name), start in zip(
        windows.eval_dataset(builder, "actor_01", stored, 64, stride=4).unbatch(), [0, 4, 8, 12, 16, 20] * 6
    ):
        np.testing.assert_array_equal(inputs["faces"], clips[name.numpy()][start : start + 8])
    with pytest.raises(UserError, match=f"{built}"):
        datasets.load_builder(str(built), "audio")


CONFIGS = sorted((ROOT / "trainers" / "configs").glob("*.cfg"))


def _header(config):
    return [line for line in config.read_text().splitlines() if line.startswith("#")]


def _trainer_of(config) -> str:
    """The trainer its header's command runs (`python -m trainers.TRAINER`); None: no such command."""
    command = next((line for line in _header(config) if f"--flagfile=trainers/configs/{config.name}" in line), "")
    return command.split("python -m trainers.", 1)[1].split()[0] if "python -m trainers." in command else None


# Another trainer's flags clash with train's: its configs are parsed by it in a process of its
# own, one for all of them (the two preset configs shared none, 7 to 17 s each here). A trainer
# of one fixed model has no --model.
PARSE = """
import json, sys, traceback

from absl import flags

from emorec import models
from trainers import {trainer} as t

failed = {{}}
for config in sys.argv[1:]:
    try:
        flags.FLAGS(["t", f"--flagfile={{config}}"])
        s = t.Settings.from_flags()  # a trainer of one fixed model has no --model
        not hasattr(s, "model") or models.check_options(s.model, models.parse_options(s.options))
    except Exception:
        failed[config] = traceback.format_exc()
    finally:
        flags.FLAGS.unparse_flags()
print(json.dumps(failed))
"""


@functools.cache
def _refused_by(trainer: str) -> dict:
    """{config: the traceback of its refusal} for every config of `trainer` refused."""
    configs = [str(c) for c in CONFIGS if _trainer_of(c) == trainer]
    return one_process.last_json(PARSE.format(trainer=trainer), configs, ENV)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_every_experiment_config_parses_and_says_how_it_runs(config):
    """Its header holds what it is, the command, the result and the time; nothing else."""
    from trainers import train

    header = _header(config)
    assert any(f"--flagfile=trainers/configs/{config.name}" in line for line in header)
    assert any(line.startswith("# Result:") for line in header) and header[-1].startswith("# Time:")
    assert len(header) <= 7
    trainer = _trainer_of(config)
    assert trainer, f"{config}: its command runs no trainer"
    if trainer != "train":
        refused = _refused_by(trainer)
        assert str(config) not in refused, refused.get(str(config), "")[-2000:]
        return
    try:
        flags.FLAGS(["train", f"--flagfile={config}"])
        settings = train.Settings.from_flags()
        video, _, audio = settings.model.partition("+")
        known = set(models.VIDEO_ENCODERS) | set(models.AUDIO_ENCODERS) | set(models.MODELS)
        assert video in known and (not audio or audio in models.AUDIO_ENCODERS), settings.model
        assert settings.config in ("av", "audio", "video")
    finally:
        flags.FLAGS.unparse_flags()


def test_the_cosine_schedule_ends_at_zero_after_the_epochs_it_is_given():
    from trainers import train

    # The trainer's settings made in code, as a notebook makes them: no flags parsed.
    settings = train.Settings.of(epochs=80, learning_rate=1e-3, warmup_epochs=1)
    full, refit = train.optimizer(settings, 10), train.optimizer(settings, 10, epochs=59)

    def rate(optimizer, step):
        optimizer.iterations.assign(step)
        return float(optimizer.learning_rate)

    assert rate(full, 10) == pytest.approx(1e-3) and rate(refit, 10) == pytest.approx(1e-3)
    assert rate(refit, 590) == pytest.approx(0, abs=1e-9) and rate(full, 590) > 1e-4
    assert rate(full, 800) == pytest.approx(0, abs=1e-9)
    with pytest.raises(TypeError):
        train.Settings.of(epoch=80)  # a name that is no flag


def test_augmentation_keeps_shapes_is_seeded_and_masks_a_band():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    inputs = {
        "faces": tf.constant(rng.integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)),
        "waveform": tf.constant(rng.normal(0, 0.1, 8000).astype(np.float32)),
    }
    a, b = augmentation.augment(inputs, tf.constant([3, 4])), augmentation.augment(inputs, tf.constant([3, 4]))
    c = augmentation.augment(inputs, tf.constant([5, 6]))
    for key in inputs:
        assert a[key].shape == inputs[key].shape and a[key].dtype == inputs[key].dtype
        np.testing.assert_array_equal(a[key], b[key])
        assert not np.array_equal(a[key], inputs[key]) and not np.array_equal(a[key], c[key])
    assert augmentation.augment(inputs, tf.constant([3, 4]), face_size=48)["faces"].shape == (4, 48, 48, 3)
    t = np.arange(16000) / 16000
    tone = tf.constant(np.sin(2 * np.pi * 1000 * t).astype(np.float32))
    energies = [
        np.abs(np.fft.rfft(augmentation.mask_frequencies(tone, tf.constant([s, 7])).numpy()))[1000] for s in range(20)
    ]
    assert min(energies) < 1 and max(energies) > 7000  # some masks cover 1 kHz, others leave it


# What `python -m trainers.train` runs (its last line), each refusal in one process
# (`one_process`): a process each cost the suite 10 to 14 s on 2 cores (10 of them), nearly all
# of it TensorFlow's import. `test_a_refusal_in_a_process_of_its_own` runs one as the command
# itself, for what a process prints as it starts.
REFUSALS = """
import trainers
from trainers import train


def command(argv):
    sys.argv = [train.__file__, *argv]
    trainers.run(train.main, "trainers.train")
    return "returned"
"""

# One of each kind of check (the options' own checks, unknown names and tuples cut at commas
# among them, are tested in test_models.py).
BAD_FLAGS = [
    ("--batch_size=0", "flag --batch_size=0: must be at least 1"),
    ("--export_dir=/dev/null/exports", "--export_dir=/dev/null/exports cannot be written to (Not a directory)"),
    ("--fold=9", "--fold=9: ravdess/av here has 3 folds (3 actors): give 1..3"),
    ("--data_dir=/nowhere", "no built ravdess/av in /nowhere: build it with"),
    ("--model=nonsense", "--model=nonsense is not a model"),
    ("--options=dropout='0.1'", "option dropout='0.1' for wave_cnn1d: expected a float"),
    ("--freeze=stage1", "--freeze ['stage1']: no layer of wave_cnn1d is so named"),
]
UNBUILDABLE = ["--options=lstm_units=-5", "--weights=cut.weights.h5"]


@pytest.fixture(scope="module")
def refused(built, tmp_path_factory):
    """Every refusal case below, run by `REFUSALS` in one process: {case: (exit status, stderr,
    its --model_dir, its folder)}."""
    from emorec.models import backbones
    from trainers import run_lock

    root = tmp_path_factory.mktemp("refused")
    backbones.small_cnn(32).save_weights(root / "whole.weights.h5")
    (root / "cut.weights.h5").write_bytes((root / "whole.weights.h5").read_bytes()[:5000])
    flags = {f"bad {flag}": ["--model=wave_cnn1d", flag] for flag, _ in BAD_FLAGS}
    for flag in UNBUILDABLE:
        built_flags = ["--model=resnet_lstm", "--backbone=small_cnn", "--fold=1", "--epochs=1"]
        flags[f"unbuildable {flag}"] = [*built_flags, flag.replace("cut.weights.h5", str(root / "cut.weights.h5"))]
    flags["in use"] = ["--model=wave_cnn1d", "--fold=1", "--epochs=1"]
    cases = [(case, root / str(number)) for number, case in enumerate(flags)]
    for _, folder in cases:
        folder.mkdir()
    (cases[-1][1] / "run").mkdir()
    run_lock.hold(str(cases[-1][1] / "run"), "model_dir")  # this test process holds it, as a running trainer would
    argvs = [(train_command(built, folder / "run", *flags[case])[3:], str(folder / "stderr")) for case, folder in cases]
    statuses = one_process.statuses(REFUSALS, argvs, ENV)
    return {
        case: (status, (folder / "stderr").read_text(), folder / "run", folder)
        for (case, folder), status in zip(cases, statuses)
    }


def _one_line(stderr: str) -> str:
    """The refusal's line, where it is the only one: absl printed its flag help first (about 100
    lines), or a pointer to it after."""
    [line] = [line for line in stderr.splitlines() if line.strip()]
    return line


@pytest.mark.parametrize("flag, says", BAD_FLAGS)
def test_bad_flags_are_one_line_before_any_work(refused, flag, says):
    status, stderr, run_dir, _ = refused[f"bad {flag}"]
    assert status not in (0, None, "returned") and says in stderr
    assert "Traceback" not in stderr and not (run_dir / "fold_1").exists()
    line = _one_line(stderr)
    assert line.startswith("trainers.train: ") and says in line, stderr[-2000:]


def test_a_refusal_in_a_process_of_its_own_is_one_line(built, tmp_path):
    """`python -m trainers.train` itself: nothing it prints as it starts TensorFlow and builds the
    model comes before or after the refusal."""
    flag, says = BAD_FLAGS[-1]
    run = train(built, tmp_path / "run", "--model=wave_cnn1d", flag, check=False)
    assert run.returncode == 2 and not (tmp_path / "run" / "fold_1").exists()
    line = _one_line(run.stderr)
    assert line.startswith("trainers.train: ") and says in line, run.stderr[-2000:]


@pytest.mark.parametrize("flag", UNBUILDABLE)
def test_a_model_that_cannot_be_built_is_refused_before_its_run_folder_is_made(refused, flag):
    """An option value Keras refuses, or a weights file cut short, ended in a traceback from the
    first fold, leaving the run folder and its .lock behind."""
    status, stderr, run_dir, folder = refused[f"unbuildable {flag}"]
    line = _one_line(stderr)
    assert status == 2 and line.startswith("trainers.train: "), stderr[-2000:]
    assert (str(folder.parent / "cut.weights.h5") if "weights" in flag else "--model=resnet_lstm") in line
    assert not run_dir.exists()


def test_a_model_dir_in_use_is_refused_naming_its_process(refused):
    status, stderr, run_dir, _ = refused["in use"]
    assert (
        status not in (0, None, "returned")
        and f"is in use by process {os.getpid()}" in stderr
        and "give another --model_dir" in stderr
    )
    assert not (run_dir / "fold_1").exists()


@pytest.mark.slow
def test_a_mixed_precision_xla_run_exports_a_model_that_serves_float32_inputs(built, tmp_path):
    train(
        built,
        tmp_path / "run",
        "--model=r3d+wave_cnn1d",
        "--fold=1",
        "--epochs=1",
        "--mixed_precision",
        "--jit_compile",
        f"--export_dir={tmp_path / 'exports'}",
        "--export_name=av",
    )
    local = serving.LocalModel(str(tmp_path / "exports" / "av" / "1"))
    assert local.signature["waveform"][1] == np.float32 and local.signature["faces"][1] == np.uint8
    rng = np.random.default_rng(0)
    out = local.predict(
        {
            "faces": rng.integers(0, 256, (2, *local.signature["faces"].shape[1:]), dtype=np.uint8),
            "waveform": rng.normal(0, 0.1, (2, local.signature["waveform"].shape[1])).astype(np.float32),
        }
    )
    assert out["probabilities"].dtype == np.float32
    np.testing.assert_allclose(out["probabilities"].sum(1), 1, atol=1e-3)
