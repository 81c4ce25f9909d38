"""emorec.evaluation.centring and its command: per-speaker centring of a run's outputs, alpha
chosen on validation actors."""

import json
import subprocess
import sys

import numpy as np

from emorec import metrics, ravdess
from emorec.evaluation import centring, predictions

from conftest import ROOT
from test_training import ENV

FOLDS = {1: {"validation": (3, 4), "test": (1, 2)}, 2: {"validation": (1, 2), "test": (3, 4)}}


def _speaker_clips(actor):
    """Each of 8 emotions twice, as a RAVDESS speaker acts them all."""
    labels = np.repeat(np.arange(8), 2)
    names = [f"03-01-{e + 1:02d}-01-{i % 2 + 1:02d}-01-{actor:02d}" for i, e in enumerate(labels)]
    return labels, names


def _outputs(labels, pull: int, strength: float):
    """Log-probabilities right on every clip by a margin of 1, plus `strength` on class `pull`
    for every clip: a voice pulling its speaker toward one class."""
    logits = np.eye(8)[labels] + strength * np.eye(8)[pull]
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


def _run(run_dir, strength: dict):
    """A finished run; strength[part] is how hard each speaker is pulled (toward class
    actor % 8) in that part: one strength, or one per actor of the part."""
    for fold, actors in FOLDS.items():
        parts = {}
        for part, ids in actors.items():
            clips = [_speaker_clips(a) for a in ids]
            strengths = np.broadcast_to(strength[part], len(ids))
            probabilities = np.concatenate([_outputs(y, a % 8, s) for a, s, (y, _) in zip(ids, strengths, clips)])
            parts[part] = (probabilities, np.concatenate([y for y, _ in clips]), sum((n for _, n in clips), []))
        (run_dir / f"fold_{fold}").mkdir(parents=True)
        predictions.save(str(run_dir / f"fold_{fold}"), parts)
    summary = {
        "model": "mel_cnn2d",
        "config": "audio",
        "classes": 8,
        "folds": len(FOLDS),
        "train_seconds": metrics.mean_and_spread([10.0, 20.0]),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def test_centring_removes_a_speakers_pull():
    labels, names = _speaker_clips(5)
    pulled = _outputs(labels, pull=3, strength=2.0)
    assert np.mean(pulled.argmax(1) == labels) == 2 / 16  # only class 3's own clips
    speakers = np.array([ravdess.parse(n).actor for n in names])
    assert set(speakers) == {5}
    assert np.mean(centring.centre(pulled, speakers, 1.0).argmax(1) == labels) == 1.0
    np.testing.assert_allclose(centring.centre(pulled, speakers, 0.0), pulled, rtol=1e-5)
    assert centring.choose_alpha(pulled, labels, speakers, 0.1) > 0.5


def test_a_speaker_acting_one_emotion_keeps_alpha_zero():
    """Centring assumes a speaker acts every emotion: for one who acts only anger the mean
    output is the anger itself, centring it away is wrong, and validation says so."""
    labels = np.full(10, 4)
    confident = np.full((10, 8), 0.02)
    confident[:, 4] = 0.86
    confident[:3, 4], confident[:3, 2] = 0.3, 0.56  # three clips wrongly called happy
    speakers = np.full(10, 7)
    assert centring.choose_alpha(confident, labels, speakers, 0.1) == 0.0


def test_alpha_is_chosen_on_validation_actors_only(tmp_path):
    """Validation speakers are pulled, test speakers are not: alpha is chosen high and test
    accuracy (1.0 uncentred) stays 1.0, as centring unpulled balanced speakers changes nothing
    of the argmax. Then the reverse: unpulled validation speakers give alpha 0, and the
    pulled test speakers are left as they were (2 of 16 right each), not corrected by a
    choice that looked at them."""
    pulled_validation = _run(tmp_path / "a", {"validation": 2.0, "test": 0.0})
    out = subprocess.run(
        [sys.executable, "-m", "emorec.evaluation", "centre", str(pulled_validation)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    summary = json.loads((tmp_path / "a_centred" / "summary.json").read_text())
    assert all(r["alpha"] >= 0.5 for r in summary["per_fold"])
    assert summary["validation_clip_accuracy"]["values"] == [1.0, 1.0]
    assert summary["test_clip_accuracy"]["values"] == [1.0, 1.0]
    assert summary["train_seconds"]["values"] == [10.0, 20.0] and summary["model"] == "mel_cnn2d"
    assert "clip-level test accuracy 1.000" in out

    pulled_test = _run(tmp_path / "b", {"validation": 0.0, "test": 2.0})
    subprocess.run(
        [sys.executable, "-m", "emorec.evaluation", "centre", str(pulled_test), f"--out_dir={tmp_path / 'c'}"],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
    )
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert [r["alpha"] for r in summary["per_fold"]] == [0.0, 0.0]
    assert summary["test_clip_accuracy"]["values"] == [2 / 16, 2 / 16]
    table = subprocess.run(
        [sys.executable, "-m", "emorec.evaluation", "compare", str(tmp_path / "c"), f"--plot={tmp_path / 'cmp.png'}"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "| c | mel_cnn2d | audio | 2 | 0.125 ± 0.000" in table


def test_centred_validation_scores_are_of_an_alpha_chosen_without_the_actor(tmp_path):
    """Of each fold's two validation actors one is pulled and one is not. Chosen on both, alpha
    centres the pulled one and every clip is right; the alpha chosen on the other actor alone
    is the wrong one for each, and the validation score says what that is worth."""
    run = _run(tmp_path / "a", {"validation": (2.0, 0.0), "test": 0.0})
    subprocess.run(
        [sys.executable, "-m", "emorec.evaluation", "centre", str(run)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        check=True,
    )
    summary = json.loads((tmp_path / "a_centred" / "summary.json").read_text())
    assert all(r["alpha"] >= 0.5 for r in summary["per_fold"])
    # Held out: the pulled actor keeps alpha 0 (chosen on the unpulled one), 2 of its 16 right;
    # the unpulled one is centred with the high alpha, which changes none of its argmaxes.
    assert summary["validation_clip_accuracy"]["values"] == [18 / 32] * 2
