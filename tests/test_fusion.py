"""trainers.baseline (openSMILE functionals + SVM) and late fusion (emorec.evaluation) on the same folds."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from emorec import metrics, ravdess, synthetic
from emorec.evaluation import predictions

import one_process
from conftest import ROOT
from test_training import ENV


def _clip_names(part: str, count: int) -> list[str]:
    """RAVDESS names of up to 16 clips, every other one by the second of the part's two actors
    (validation 3 and 4, test 1 and 2)."""
    first = 3 if part == "validation" else 1
    return [f"03-01-{i % 8 + 1:02d}-01-{i // 8 + 1:02d}-01-{first + i % 2:02d}" for i in range(count)]


def _fake_run(run_dir, folds: dict, seconds=(10.0, 20.0, 30.0)):
    """A finished run: per fold {part: (probabilities, labels)}."""
    for fold, parts in folds.items():
        (run_dir / f"fold_{fold}").mkdir(parents=True)
        predictions.save(
            str(run_dir / f"fold_{fold}"), {part: (p, y, _clip_names(part, len(y))) for part, (p, y) in parts.items()}
        )
    summary = {
        "model": run_dir.name,
        "config": "audio",
        "classes": 8,
        "folds": len(folds),
        "train_seconds": metrics.mean_and_spread(seconds),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))


def _confident(predicted, confidence=0.9):
    p = np.full((len(predicted), 8), (1 - confidence) / 7)
    p[np.arange(len(predicted)), predicted] = confidence
    return p


def test_fusion_weights_are_chosen_on_validation_actors_only(tmp_path):
    """Run `good` is right on validation and half right on test; `bad` wrong on validation
    and right on test. Chosen on validation the weights are all `good`'s, and the fused
    test accuracy is its 0.5: a choice that looked at test actors would give 1.0."""
    labels = np.arange(8).repeat(2)
    wrong = (labels + 1) % 8
    half = np.where(np.arange(16) % 2 == 0, labels, wrong)
    folds = [1, 2, 3]
    _fake_run(
        tmp_path / "good",
        {f: {"validation": (_confident(labels), labels), "test": (_confident(half), labels)} for f in folds},
    )
    _fake_run(
        tmp_path / "bad",
        {f: {"validation": (_confident(wrong), labels), "test": (_confident(labels), labels)} for f in folds},
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "emorec.evaluation",
            "fuse",
            str(tmp_path / "good"),
            str(tmp_path / "bad"),
            f"--out_dir={tmp_path / 'fused'}",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads((tmp_path / "fused" / "summary.json").read_text())
    assert [r["weights"] for r in summary["per_fold"]] == [{"good": 1.0, "bad": 0.0}] * 3
    assert summary["test_clip_accuracy"]["values"] == [0.5] * 3
    assert summary["validation_clip_accuracy"]["values"] == [1.0] * 3
    assert summary["train_seconds"]["values"] == [20.0, 40.0, 60.0]
    assert "clip-level test accuracy 0.500" in out.stdout
    assert "the best member, good: 1.000; validation prefers good" in out.stdout
    table = subprocess.run(
        [
            sys.executable,
            "-m",
            "emorec.evaluation",
            "compare",
            str(tmp_path / "fused"),
            f"--plot={tmp_path / 'cmp.png'}",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "| fused | good+bad | audio | 3 | 0.500 ± 0.000" in table


def test_fusion_combines_what_each_run_gets_right(tmp_path):
    """Each run is sure of half of the clips and unsure of the rest: fused, all are right."""
    labels = np.arange(8).repeat(2)
    noise = np.eye(8)[(labels + 1) % 8] * 0.3
    runs = {}
    for name, sure in (("first", np.arange(16) < 8), ("second", np.arange(16) >= 8)):
        p = np.where(sure, 0.9, 0.2)[:, None] * np.eye(8)[labels] + noise + 0.01
        runs[name] = p / p.sum(1, keepdims=True)
        assert np.mean(runs[name].argmax(1) == labels) == 0.5
        _fake_run(
            tmp_path / name, {f: {"validation": (runs[name], labels), "test": (runs[name], labels)} for f in (1, 2, 3)}
        )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "emorec.evaluation",
            "fuse",
            str(tmp_path / "first"),
            str(tmp_path / "second"),
            f"--out_dir={tmp_path / 'fused'}",
            "--weight_step=0.1",
        ],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "chosen without it: 1.000; the best member, first: 0.500; validation prefers the fusion" in out
    summary = json.loads((tmp_path / "fused" / "summary.json").read_text())
    assert [r["weights"] for r in summary["per_fold"]] == [{"first": 0.5, "second": 0.5}] * 3
    assert summary["test_clip_accuracy"]["values"] == [1.0] * 3
    fused = predictions.load(str(tmp_path / "fused" / "fold_1"))["test"][0]
    expected = np.sqrt(runs["first"] * runs["second"])[np.argsort(_clip_names("test", 16))]  # load sorts by name
    np.testing.assert_allclose(fused, expected / expected.sum(1, keepdims=True), rtol=1e-5)


def test_fused_validation_scores_are_of_weights_chosen_without_the_actor(tmp_path):
    """On validation actor 3 run `a` is sure and right and `b` unsure and wrong, on actor 4 the
    reverse, so the even fusion gets every clip right. Scored on the clips that chose it, that
    weighting would claim 1.0; each actor's own weighting, chosen on the other actor, is the
    run that is sure there, which is wrong on the actor scored: 0.0 is what it is worth."""
    labels = np.arange(8).repeat(2)
    wrong = (labels + 1) % 8
    actor_3 = np.arange(16) % 2 == 0  # _clip_names: every other clip is actor 4's

    def outputs(sure_on):
        sure = 0.9 * np.eye(8)[labels] + 0.1 / 8
        unsure = 0.2 * np.eye(8)[labels] + 0.3 * np.eye(8)[wrong] + 0.5 / 8
        return np.where(sure_on[:, None], sure, unsure)

    for name, sure_on in (("a", actor_3), ("b", ~actor_3)):
        _fake_run(
            tmp_path / name,
            {f: {"validation": (outputs(sure_on), labels), "test": (outputs(sure_on), labels)} for f in (1, 2, 3)},
        )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "emorec.evaluation",
            "fuse",
            str(tmp_path / "a"),
            str(tmp_path / "b"),
            f"--out_dir={tmp_path / 'fused'}",
            "--weight_step=0.5",
        ],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    summary = json.loads((tmp_path / "fused" / "summary.json").read_text())
    assert [r["weights"] for r in summary["per_fold"]] == [{"a": 0.5, "b": 0.5}] * 3
    assert summary["test_clip_accuracy"]["values"] == [1.0] * 3
    assert summary["validation_clip_accuracy"]["values"] == [0.0] * 3
    assert summary["per_fold"][0]["member_validation_accuracy"] == {"a": 0.5, "b": 0.5}
    assert "chosen without it: 0.000; the best member, a: 0.500; validation prefers a" in out


def test_fusion_refuses_runs_of_other_clips(tmp_path):
    labels = np.arange(8)
    parts = {"validation": (_confident(labels), labels), "test": (_confident(labels), labels)}
    _fake_run(tmp_path / "a", {1: parts, 2: parts, 3: parts})
    _fake_run(tmp_path / "b", {1: parts, 2: parts, 3: parts})
    (tmp_path / "b" / "fold_2" / predictions.FILE).unlink()
    predictions.save(
        str(tmp_path / "b" / "fold_2"),
        {part: (p, y, [f"other_{i}" for i in range(8)]) for part, (p, y) in parts.items()},
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "emorec.evaluation",
            "fuse",
            str(tmp_path / "a"),
            str(tmp_path / "b"),
            f"--out_dir={tmp_path / 'fused'}",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and f"{tmp_path / 'b'}/fold_2" in out.stderr


@pytest.fixture(scope="module")
def audio_sample(tmp_path_factory):
    """Audio-only wavs of 6 actors, neutral and angry (their synthetic voices differ in pitch)."""
    root = tmp_path_factory.mktemp("baseline")
    synthetic.make_sample(
        str(root / "sample"),
        synthetic.clips(actors=range(1, 7), emotions=(1, 5), repetitions=(1, 2), modalities=(3,)),
        duration=1.0,
    )
    return root


@pytest.fixture(scope="module")
def baselines(audio_sample):
    """trainers.baseline on the sample's folders, every feature set: (its runs folder, its stdout)."""
    runs = audio_sample / "runs"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainers.baseline",
            f"--ravdess_dir={audio_sample / 'sample'}",
            f"--model_dir={runs}",
            "--num_folds=3",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return runs, out


def test_baselines_score_held_out_actors_and_fuse(baselines):
    runs, out = baselines
    variants = ["egemaps_svm", "egemaps_svm_speaker_norm", "compare_svm", "compare_svm_speaker_norm"]
    assert all(f"{v}: test accuracy" in out.stdout for v in variants)
    summary = json.loads((runs / "compare_svm_speaker_norm" / "summary.json").read_text())
    fold = summary["per_fold"][0]
    assert fold["actors"] == {"number": 1, "train": [5, 6], "validation": [3, 4], "test": [1, 2]}
    assert set(fold["best_params"]["validation"]) == {"C"} and set(fold["best_params"]["test"]) == {"C"}
    kept = predictions.load(str(runs / "compare_svm_speaker_norm" / "fold_1"))
    # 2 emotions x 2 statements x 2 repetitions of each of the fold's 2 test actors.
    assert sorted({name[-2:] for name in kept["test"][2]}) == ["01", "02"] and len(kept["test"][2]) == 16
    assert sorted({name[-2:] for name in kept["validation"][2]}) == ["03", "04"]
    probabilities, labels, _ = kept["test"]
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-5)
    assert fold["test"]["clip"]["accuracy"] == np.mean(probabilities.argmax(1) == labels)
    # Pitch tells the two emotions apart once each speaker's own pitch is removed.
    assert summary["test_clip_accuracy"]["mean"] >= 0.9

    subprocess.run(
        [
            sys.executable,
            "-m",
            "emorec.evaluation",
            "fuse",
            str(runs / "egemaps_svm_speaker_norm"),
            str(runs / "compare_svm_speaker_norm"),
            f"--out_dir={runs / 'fused'}",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    fused = json.loads((runs / "fused" / "summary.json").read_text())
    assert fused["folds"] == 3 and all(abs(sum(r["weights"].values()) - 1) < 1e-9 for r in fused["per_fold"])


def test_baseline_reads_zenodo_zips_in_place_and_names_clips_by_ravdess_name(audio_sample, baselines, tmp_path):
    zips = tmp_path / "zips"
    synthetic.zip_like_zenodo(str(audio_sample / "sample"), str(zips))
    assert [p.name for p in zips.iterdir()] == ["Audio_Speech_Actors_01-24.zip"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainers.baseline",
            f"--ravdess_dir={zips}",
            f"--model_dir={tmp_path / 'zips'}",
            "--num_folds=3",
            "--features=egemaps",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # Against the folders' run of every feature set (the fixture's, a process fewer than running
    # eGeMAPS on them again): each set's features and SVMs are its own, fitted with a fixed seed.
    kept = {
        name: predictions.load(str(runs / "egemaps_svm_speaker_norm" / "fold_1"))["test"]
        for name, runs in (("zips", tmp_path / "zips"), ("folders", baselines[0]))
    }
    names = kept["zips"][2]
    assert len(set(names)) == 16 and all(ravdess.parse(n).actor in (1, 2) for n in names)
    np.testing.assert_array_equal(names, kept["folders"][2])
    np.testing.assert_allclose(kept["zips"][0], kept["folders"][0], atol=1e-6)


# `python -m emorec.evaluation` (its last line: guarded("emorec-evaluate", run)), each command
# given in one process (`one_process`): a process each was 3 to 4 s of the suite, nearly all of
# it scikit-learn's import. (Not in the test process: a test that imported trainers.preset
# there, which defines --out_dir too, leaves emorec.evaluation's flags undefinable.)
EVALUATE = """
def command(argv):
    import emorec.evaluation.__main__ as evaluation
    from emorec.errors import guarded

    sys.argv = ["emorec-evaluate", *argv]
    return guarded("emorec-evaluate", evaluation.run)
"""


def _evaluate(folder, *commands):
    """[(exit status, stderr)] of `python -m emorec.evaluation COMMAND` for each command, in order."""
    stderrs = [folder / f"stderr_{i}" for i in range(len(commands))]
    cases = [([str(a) for a in command], str(stderr)) for command, stderr in zip(commands, stderrs)]
    return [(status, stderr.read_text()) for status, stderr in zip(one_process.statuses(EVALUATE, cases, ENV), stderrs)]


def test_emorec_evaluate_says_its_commands_in_help_and_refuses_in_one_line(tmp_path):
    """--help showed only "USAGE: emorec-evaluate [flags]" (the installed script has no doc);
    a missing command and a bad flag value were three lines."""
    script = os.path.join(os.path.dirname(sys.executable), "emorec-evaluate")
    helped = subprocess.run([script, "--help"], capture_output=True, text=True, env=ENV)
    assert "python -m emorec.evaluation paired RUN_A RUN_B" in helped.stdout  # (absl ends --help with 1)
    for (status, stderr), says in zip(
        _evaluate(tmp_path, [], ["compare", "--metric=nope"]),
        ("emorec-evaluate: give a command and run folders: centre RUN", "emorec-evaluate: flag --metric=nope: "),
    ):
        [line] = stderr.strip().splitlines()
        assert status == 2 and line.startswith(says), stderr


def test_fuse_and_centre_refuse_an_out_dir_holding_an_input_or_another_run(tmp_path):
    """--out_dir pointing at an input run, or at another finished run, was written over; the
    rerun of the same command still replaces its own."""
    labels = np.arange(8)
    parts = {"validation": (_confident(labels), labels), "test": (_confident(labels), labels)}
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        _fake_run(runs / name, {1: parts, 2: parts, 3: parts})
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}

    a, b, fused = runs / "a", runs / "b", runs / "fused"
    cases = (
        (["fuse", a, b, f"--out_dir={a}"], f"--out_dir {a} "),
        (["centre", b, f"--out_dir={b}"], f"--out_dir {b} "),
        (["centre", a, f"--out_dir={b}"], f"--out_dir {b} "),
    )
    for (command, named), (status, stderr) in zip(cases, _evaluate(tmp_path, *(c for c, _ in cases))):
        [line] = stderr.strip().splitlines()
        assert status == 2 and line.startswith(f"emorec-evaluate: {named}"), stderr
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before
    again, same, other, centred = _evaluate(
        tmp_path,
        ["fuse", a, b, f"--out_dir={fused}"],
        ["fuse", a, b, f"--out_dir={fused}"],  # the same command again: its own run
        ["fuse", b, a, f"--out_dir={fused}"],  # another fusion
        ["centre", a, f"--out_dir={fused}"],
    )
    assert again[0] == 0 and same[0] == 0, again[1] + same[1]
    assert other[0] == 2 and f"--out_dir {fused} " in other[1]
    assert centred[0] == 2 and f"--out_dir {fused} " in centred[1]
