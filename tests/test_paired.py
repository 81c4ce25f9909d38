"""emorec.evaluation.paired: two runs compared on the same test clips, resampled by actor."""

import json
import subprocess
import sys

import numpy as np
import pytest

from emorec import errors
from emorec.errors import UserError
from emorec.evaluation import paired, predictions

from conftest import ROOT
from test_training import ENV

FOLDS = {1: (1, 2), 2: (3, 4)}  # fold: test actors
CLIPS = [(e, s) for e in range(1, 6) for s in (1, 2)]  # 10 clips an actor: emotion, statement


def _run(run_dir, right_by_actor: dict):
    """A finished run whose test predictions are right on right_by_actor[actor] of each
    actor's 10 clips (the first ones)."""
    for fold, actors in FOLDS.items():
        names = [f"03-01-{e:02d}-01-{s:02d}-01-{a:02d}" for a in actors for e, s in CLIPS]
        labels = np.array([e - 1 for a in actors for e, _ in CLIPS])
        right = np.concatenate([np.arange(len(CLIPS)) < right_by_actor[a] for a in actors])
        predicted = np.where(right, labels, (labels + 1) % 8)
        probabilities = np.eye(8)[predicted] * 0.9 + 0.0125
        fold_dir = run_dir / f"fold_{fold}"
        fold_dir.mkdir(parents=True)
        predictions.save(str(fold_dir), {part: (probabilities, labels, names) for part in predictions.PARTS})
    return str(run_dir)


def test_a_uniformly_better_run_has_a_tight_interval_above_zero(tmp_path):
    a = _run(tmp_path / "a", {1: 10, 2: 10, 3: 10, 4: 10})
    b = _run(tmp_path / "b", {1: 5, 2: 5, 3: 5, 4: 5})
    r = paired.compare(a, b, resamples=500)
    assert (r["accuracy_a"], r["accuracy_b"], r["difference"]) == (1.0, 0.5, 0.5)
    assert r["interval"] == pytest.approx((0.5, 0.5))
    assert r["a_better_share"] == 1.0
    assert (r["only_a"], r["only_b"], r["clips"], r["actors"]) == (20, 0, 40, 4)
    assert r["per_fold"] == {1: 0.5, 2: 0.5}


def test_actors_are_resampled_together(tmp_path):
    """A wins every clip of actor 1 and loses every clip of actor 2: level on the pooled
    clips, and as unsure as two actors make it, not as 20 independent clips would."""
    a = _run(tmp_path / "a", {1: 10, 2: 0, 3: 10, 4: 10})
    b = _run(tmp_path / "b", {1: 0, 2: 10, 3: 10, 4: 10})
    r = paired.compare(a, b, resamples=2000)
    assert r["difference"] == 0.0 and r["per_fold"] == {1: 0.0, 2: 0.0}
    assert r["per_actor"] == {1: (1.0, 0.0), 2: (0.0, 1.0), 3: (1.0, 1.0), 4: (1.0, 1.0)}
    low, high = r["interval"]
    # At least one actor's worth (0.25) each way; resampling the 40 clips one by one would
    # give about +-0.22.
    assert low <= -0.25 and high >= 0.25
    draws = paired.actor_bootstrap(np.array([1, 0]), np.array([0, 1]), np.array([1, 2]), 4000)
    assert set(np.unique(draws)) == {-1.0, 0.0, 1.0}


def test_runs_of_other_folds_are_refused(tmp_path):
    a = _run(tmp_path / "a", {1: 10, 2: 10, 3: 10, 4: 10})
    b = _run(tmp_path / "b", {1: 10, 2: 10, 3: 10, 4: 10})
    for f in (tmp_path / "b" / "fold_2").iterdir():
        f.unlink()
    (tmp_path / "b" / "fold_2").rmdir()
    with pytest.raises(UserError, match=str(tmp_path / "b")):
        paired.compare(a, b, resamples=10)


def test_the_evaluation_command_imports_beside_the_trainer():
    """Both define absl flags on import, and a test process imports both."""
    from absl import flags

    import emorec.evaluation.__main__ as evaluation
    import trainers.train  # noqa: F401 (its flags, defined on import, beside the command's)

    assert evaluation.COMMANDS["paired"] and flags.FLAGS["seed"].default == 0


def test_the_command_prints_the_comparison_and_plots_each_actor(tmp_path):
    a = _run(tmp_path / "a", {1: 10, 2: 10, 3: 10, 4: 10})
    b = _run(tmp_path / "b", {1: 5, 2: 5, 3: 5, 4: 5})
    plot = tmp_path / "a_vs_b.png"
    out = subprocess.run(
        [sys.executable, "-m", "emorec.evaluation", "paired", a, b, "--resamples=200", f"--plot={plot}"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "a against b, 40 test clips of 4 actors: clip-level accuracy 1.000 against 0.500" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000


def test_runs_that_cannot_be_compared_are_one_line_each(tmp_path, capsys):
    """A missing run, an unfinished one, runs of other clips, a damaged predictions file: each
    command says which, in one line, with a non-zero status."""
    good = _run(tmp_path / "good", {a: 5 for a in range(1, 5)})
    unfinished = _run(tmp_path / "unfinished", {a: 5 for a in range(1, 5)})
    (tmp_path / "unfinished" / "fold_2" / predictions.FILE).unlink()
    other = _run(tmp_path / "other", {a: 5 for a in range(1, 5)})
    labels = np.zeros(20, int)
    predictions.save(
        str(tmp_path / "other" / "fold_1"),
        {part: (np.eye(8)[labels], labels, [f"x_{i}" for i in range(20)]) for part in predictions.PARTS},
    )
    damaged = _run(tmp_path / "damaged", {a: 5 for a in range(1, 5)})
    npz = tmp_path / "damaged" / "fold_1" / predictions.FILE
    npz.write_bytes(npz.read_bytes()[:100])
    # Each said naming the run or file at fault.
    cases = [
        (["paired", good, str(tmp_path / "missing")], str(tmp_path / "missing")),
        (["fuse", str(tmp_path / "missing"), good], str(tmp_path / "missing")),
        (["paired", good, unfinished], unfinished),
        (["compare", unfinished], f"{unfinished}/summary.json"),
        (["paired", good, other], f"{other}/fold_1"),
        (["paired", good, damaged], str(npz)),
    ]
    from absl import flags

    import emorec.evaluation.__main__ as evaluation

    flags.FLAGS.mark_as_parsed()  # the defaults; main is what `python -m emorec.evaluation` runs
    for argv, named in cases:
        assert errors.guarded("emorec-evaluate", evaluation.main, ["emorec-evaluate", *argv]) == 2, argv
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("emorec-evaluate: ") and named in line, (argv, line)


def _summarised(run_dir):
    """`run_dir` given the summary.json of a finished run (scores made up); its path."""
    from emorec import metrics

    path = run_dir / "summary.json"
    path.write_text(
        json.dumps(
            {
                "model": "m",
                "config": "audio",
                "classes": 8,
                "folds": 2,
                **{
                    k: metrics.mean_and_spread([0.5, 0.6])
                    for k in (
                        "test_clip_accuracy",
                        "test_clip_uar",
                        "test_clip_macro_f1",
                        "validation_clip_accuracy",
                        "train_seconds",
                    )
                },
            }
        )
    )
    return path


def test_a_damaged_summary_is_named_in_one_line_by_every_command_that_reads_it(tmp_path, capsys, monkeypatch):
    """A damaged summary.json came out as JSON's words without the file, or as a KeyError traceback."""
    from absl import flags

    import emorec.evaluation.__main__ as evaluation

    good = _run(tmp_path / "good", {a: 5 for a in range(1, 5)})
    summary = tmp_path / "good" / "summary.json"
    whole = _summarised(tmp_path / "good").read_text()
    flags.FLAGS.mark_as_parsed()
    monkeypatch.setattr(flags.FLAGS, "out_dir", str(tmp_path / "centred"))
    monkeypatch.chdir(tmp_path)  # compare's plot
    for content in (
        whole[: len(whole) // 2],
        "[]",
        b"\xff\xfe",
        whole.replace('"mean"', '"average"'),
        '{"model": "m", "config": "audio", "classes": 8}',
    ):
        summary.write_bytes(content if isinstance(content, bytes) else content.encode())
        for command in ("compare", "centre"):
            assert errors.guarded("emorec-evaluate", evaluation.main, ["emorec-evaluate", command, good]) == 2
            [line] = capsys.readouterr().err.strip().splitlines()
            assert line.startswith(f"emorec-evaluate: {summary} "), (command, content, line)
    assert not (tmp_path / "centred").exists()
    summary.write_text(whole)
    assert evaluation.main(["emorec-evaluate", "compare", good]) is None  # the whole summary is read


def test_a_plot_that_cannot_be_written_is_refused_in_one_line_before_any_work(tmp_path, capsys):
    """compare --plot to a read-only path printed the table, then ended in a PermissionError traceback."""
    import os

    from absl import flags

    import emorec.evaluation.__main__ as evaluation

    a, b = (_run(tmp_path / name, {actor: 5 for actor in range(1, 5)}) for name in ("a", "b"))
    _summarised(tmp_path / "a")
    (tmp_path / "a file").write_text("")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    flags.FLAGS.mark_as_parsed()
    cases = [
        (tmp_path / "a file" / "plot.png", "File exists"),
        (tmp_path / "a file" / "plots" / "plot.png", "Not a directory"),
    ]
    if os.geteuid() != 0:  # root writes there all the same
        cases.append((read_only / "plot.png", "Permission denied"))
    try:
        for plot, why in cases:
            flags.FLAGS.plot = str(plot)
            for command in (["compare", a], ["paired", a, b]):
                assert errors.guarded("emorec-evaluate", evaluation.main, ["emorec-evaluate", *command]) == 2
                out, err = capsys.readouterr()
                [line] = err.strip().splitlines()
                assert line.startswith(f"emorec-evaluate: --plot {plot} ") and why in line, line
                assert not out  # before any work: no table, no comparison said
    finally:
        flags.FLAGS.plot = None
