"""FER2013's reader, its faces as crops, the face-expression network and its trainer, on a
tiny fake FER2013 folder (noise images, in the real layout)."""

import csv
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import one_process

from conftest import ROOT
from emorec.corpora import fer2013
from emorec.data import fer2013 as fer_data

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}


def fake_fer(root, per_class=(3, 1, 1)):
    """FER2013's layout with `per_class` noise faces of each class in Training, PublicTest and
    PrivateTest. The file names' prefixes are swapped between the two test parts, so that only
    the `source` column tells them apart."""
    rng = np.random.default_rng(0)
    rows = []
    for source, count in zip(fer2013.SOURCES, per_class):
        split = "train" if source == "Training" else "test"
        prefix = {"PublicTest": "PrivateTest", "PrivateTest": "PublicTest"}.get(source, source)
        for emotion in fer2013.CLASSES:
            for i in range(count):
                path = f"{split}/{emotion}/{prefix}_{i}.jpg"
                (root / split / emotion).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / path), rng.integers(0, 256, (48, 48), np.uint8))
                rows.append((path, split, emotion, source))
    with open(root / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "split", "emotion", "source"), *rows])
    return root


def test_the_parts_are_the_source_column_not_the_file_names(tmp_path):
    parts = fer2013.read_labels(str(fake_fer(tmp_path)))
    assert [len(parts[s]) for s in fer2013.SOURCES] == [21, 7, 7]
    assert all("PrivateTest_" in path for path, _ in parts["PublicTest"])
    assert sorted(label for _, label in parts["PrivateTest"]) == list(range(7))


def test_an_unknown_source_or_emotion_is_refused_by_name(tmp_path):
    fake_fer(tmp_path)
    text = (tmp_path / "labels.csv").read_text()
    (tmp_path / "labels.csv").write_text(text.replace("PublicTest\n", "Validation\n", 1))
    with pytest.raises(ValueError, match="source 'Validation'"):
        fer2013.read_labels(str(tmp_path))
    (tmp_path / "labels.csv").write_text(text.replace(",calm,", ",contempt,").replace(",happy,", ",contempt,", 1))
    with pytest.raises(ValueError, match="emotion 'contempt'"):
        fer2013.read_labels(str(tmp_path))


def test_the_decoded_faces_are_cached_until_the_labels_change(tmp_path):
    folder = fake_fer(tmp_path / "fer")
    first = fer2013.load(str(folder), str(tmp_path / "cache"))
    np.testing.assert_array_equal(first["Training"][0][0], cv2.imread(str(folder / "train/neutral/Training_0.jpg"), 0))
    os.remove(folder / "train/neutral/Training_0.jpg")  # read from the cache now
    again = fer2013.load(str(folder), str(tmp_path / "cache"))
    np.testing.assert_array_equal(again["PublicTest"][1], first["PublicTest"][1])
    changed = (folder / "labels.csv").stat().st_mtime_ns + 10**9
    os.utime(folder / "labels.csv", ns=(changed, changed))  # decoded again, and the missing file named
    with pytest.raises(ValueError, match="Training_0.jpg"):
        fer2013.load(str(folder), str(tmp_path / "cache"))


def test_class_weights_lift_rare_classes_and_average_one():
    labels = np.repeat(np.arange(3), [100, 25, 4])
    weights = fer_data.class_weights(labels, 3, power=0.5)
    assert weights[2] == pytest.approx(5 * weights[0])
    assert sum(weights[y] for y in labels) / len(labels) == pytest.approx(1.0)
    balanced = fer_data.class_weights(labels, 3, power=1.0)
    assert balanced[0] * 100 == pytest.approx(balanced[2] * 4)


def test_perturbations_are_a_function_of_the_seed():
    import tensorflow as tf

    face = tf.constant(np.random.default_rng(1).uniform(0, 255, (48, 48, 1)), tf.float32)
    a, b = (fer_data.perturb(face, tf.constant([3, 7], tf.int64)) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, fer_data.perturb(face, tf.constant([3, 8], tf.int64)))
    assert 0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(a)) <= 255


def test_a_resumed_run_sees_the_epochs_the_whole_run_sees():
    faces = np.random.default_rng(2).integers(0, 256, (10, 48, 48), np.uint8)
    labels = np.arange(10, dtype=np.int32) % 7
    whole = [x for x, _ in fer_data.training(faces, labels, 56, 5, seed=4, first_epoch=0, epochs=3)]
    resumed = [x for x, _ in fer_data.training(faces, labels, 56, 5, seed=4, first_epoch=2, epochs=3)]
    assert len(whole) == 6 and len(resumed) == 2
    for a, b in zip(whole[4:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(whole[0], whole[2])  # another order and perturbation each epoch
    assert whole[0].shape == (5, 56, 56, 3) and whole[0].dtype == np.uint8
    wider = next(iter(fer_data.training(faces, labels, 56, 5, seed=4, first_epoch=0, epochs=1, max_scale=0.4)))[0]
    assert not np.array_equal(wider, whole[0])  # the same faces, order and seeds, zoomed further


def test_the_network_reads_a_colour_crop_as_its_grey():
    from emorec.models.face_expression import LUMA, WorkingFace

    colour = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 3), np.uint8)
    seen = np.asarray(WorkingFace(16)(colour))
    luma = np.round(colour.astype(np.float32) @ np.array(LUMA, np.float32))
    np.testing.assert_allclose(seen[..., 0], luma, atol=1)
    assert (seen[..., 0] == seen[..., 2]).all()
    assert np.asarray(WorkingFace(8, grey=False)(colour)).shape == (2, 8, 8, 3)


def test_the_window_model_averages_the_frames_and_reads_calm_as_neutral(tmp_path):
    from emorec import models, ravdess
    from emorec.models.face_expression import face_expression

    trained = face_expression(image_size=32, working_size=32, backbone="small_cnn", weights=None)
    trained.get_layer("probabilities").bias.assign(np.arange(7, dtype=np.float32))  # not what a fresh one has
    trained.save_weights(str(tmp_path / "best.weights.h5"))
    model = models.build(
        "face_expression",
        num_classes=8,
        frames=3,
        image_size=32,
        working_size=32,
        backbone="small_cnn",
        weights=None,
        classifier=str(tmp_path / "best.weights.h5"),
    )
    faces = np.random.default_rng(4).integers(0, 256, (2, 3, 32, 32, 3), np.uint8)
    p = model.predict({"faces": faces}, verbose=0)
    per_frame = model.per_frame().predict(faces.reshape(6, 32, 32, 3), verbose=0)
    np.testing.assert_allclose(per_frame, trained.predict(faces.reshape(6, 32, 32, 3), verbose=0), rtol=1e-5)
    per_frame = per_frame.reshape(2, 3, 7).mean(1)
    happy, neutral = fer2013.CLASSES.index("happy"), fer2013.CLASSES.index("neutral")
    np.testing.assert_allclose(p[:, ravdess.EMOTIONS.index("happy")], per_frame[:, happy], rtol=1e-5)
    np.testing.assert_allclose(p[:, ravdess.EMOTIONS.index("calm")], per_frame[:, neutral] / 2, rtol=1e-5)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)


def _train(folder, run_dir, *flags):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "trainers.faces",
            f"--data={folder}",
            f"--run_dir={run_dir}",
            f"--cache_dir={run_dir}/cache",
            "--backbone=small_cnn",
            "--weights=none",
            "--image_size=48",
            "--working_size=32",
            "--batch_size=7",
            *flags,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )


def test_the_trainer_trains_chooses_on_public_scores_private_and_resumes(tmp_path):
    folder = fake_fer(tmp_path / "fer")
    run = _train(folder, tmp_path / "run", "--epochs=1")
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["public_test"]["faces"] == metrics["private_test"]["faces"] == 7
    assert np.sum(metrics["private_test"]["confusion"]) == 7 and len(metrics["private_test"]["recall"]) == 7
    assert "PrivateTest" in run.stdout
    resumed = _train(folder, tmp_path / "run", "--epochs=2", "--preset=fer_test", f"--preset_dir={tmp_path}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming after epoch 1 of 2" in resumed.stdout
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["0", "1"]
    _the_preset_reads_faces_with_the_chosen_network(tmp_path / "fer_test", tmp_path / "run")


def _the_preset_reads_faces_with_the_chosen_network(folder, run_dir):
    from emorec import models, presets
    from emorec.models.face_expression import face_expression

    metrics = json.loads((run_dir / "metrics.json").read_text())
    card = presets.card(str(folder))
    assert card["accuracy"]["headline"].startswith(
        f"{metrics['private_test']['accuracy']:.3f} on FER2013's PrivateTest"
    )
    assert (
        card["trained_on"]["command"].startswith("python -m trainers.faces --data=")
        and "--epochs=2" in (card["trained_on"]["command"])
    )
    assert card["face_pipeline"]["size"] == 48 and card["inputs"]["faces"].startswith("uint8 [batch, 128, 48, 48, 3]")
    chosen = face_expression(image_size=48, working_size=32, backbone="small_cnn", weights=None, dropout=0.0)
    chosen.load_weights(str(run_dir / "best.weights.h5"))
    faces = np.random.default_rng(5).integers(0, 256, (1, 128, 48, 48, 3), np.uint8)
    preset = models.from_preset(str(folder))
    np.testing.assert_array_equal(preset.per_frame().predict(faces[0], verbose=0), chosen.predict(faces[0], verbose=0))
    assert preset.predict({"faces": faces}, verbose=0).shape == (1, len(card["classes"]))
    _the_preset_is_a_start_for_video_models(folder, preset)


def _the_preset_is_a_start_for_video_models(folder, preset):
    from emorec import models
    from emorec.errors import UserValueError
    from emorec.models import backbones

    start = backbones.frame_encoder("small_cnn", 64, f"preset:{folder}")  # another crop side: convolutions carry
    for ours, theirs in zip(start.get_weights(), preset.backbone().get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    video = models.build("resnet_lstm", frames=2, image_size=64, backbone="small_cnn", weights=f"preset:{folder}")
    assert video.count_params() > start.count_params()
    with pytest.raises(UserValueError, match="that preset's backbone is small_cnn, not mobilenet_v2"):
        backbones.frame_encoder("mobilenet_v2", 64, f"preset:{folder}")


# `python -m trainers.faces`, each case in one process (`one_process`).
FACES = """
def command(argv):
    import trainers
    from trainers import faces

    sys.argv = ["trainers.faces", *argv]
    trainers.run(faces.main, "trainers.faces")
"""


def test_the_trainer_refuses_what_would_fail_later_in_one_line_before_any_work(tmp_path):
    """A folder without labels.csv and a JPEG that is not FER2013's were tracebacks; an unwritable
    --preset_dir was found after the whole training; a working side under MobileNetV2's smallest,
    a traceback from inside Keras."""
    folder = fake_fer(tmp_path / "fer")
    os.remove(folder / "train/neutral/Training_0.jpg")
    (tmp_path / "a_file").write_text("")
    given = [f"--cache_dir={tmp_path / 'cache'}"]
    cases = {
        f"{tmp_path / 'labels.csv'} is not there: FER2013 is read as FOLDER/labels.csv": [f"--data={tmp_path}"],
        f"{folder / 'train/neutral/Training_0.jpg'}: not a 48 x 48 image (unreadable)": [f"--data={folder}"],
        f"--preset_dir={tmp_path / 'a_file'} cannot be written to (": [
            f"--data={folder}",
            "--preset=p",
            f"--preset_dir={tmp_path / 'a_file'}",
        ],
        "flag --working_size=16: 16 is not": [f"--data={folder}", "--working_size=16"],
        "is in use by process": [f"--data={folder}"],  # its run folder held below, as a running trainer would
    }
    stderrs = [tmp_path / f"stderr_{i}" for i in range(len(cases))]
    runs = [f"--run_dir={tmp_path / f'run_{i}'}" for i in range(len(cases))]  # a lock each: one process holds them
    from trainers import run_lock

    os.makedirs(tmp_path / f"run_{len(cases) - 1}")
    run_lock.hold(str(tmp_path / f"run_{len(cases) - 1}"), "run_dir")
    ran = one_process.statuses(
        FACES, [(given + [run] + argv, str(err)) for run, argv, err in zip(runs, cases.values(), stderrs)], ENV
    )
    for status, says, err in zip(ran, cases, stderrs):
        lines = [line for line in err.read_text().splitlines() if line.startswith("trainers.faces")]
        assert status == 2 and len(lines) == 1 and says in lines[0], (says, err.read_text()[-2000:])
        assert "Traceback" not in err.read_text()
    assert err.read_text().rstrip().endswith("give another --run_dir")  # not --model_dir, train.py's
    assert not list(tmp_path.glob("run_*/history.csv"))  # no epoch was trained
