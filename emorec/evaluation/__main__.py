"""Analyses over finished runs (trainers.train, trainers.baseline, or runs made by these):

    python -m emorec.evaluation centre RUN_DIR [--out_dir=RUN_DIR_centred] [--alpha_step=0.1]
    python -m emorec.evaluation fuse RUN_DIR RUN_DIR [...] --out_dir=runs/fusion [--weight_step=0.05]
    python -m emorec.evaluation paired RUN_A RUN_B [--resamples=10000] [--plot=a_vs_b.png]
    python -m emorec.evaluation compare RUN_DIR [...] [--plot=comparison.png] [--metric=accuracy]

`emorec-evaluate` is the same command. centre and fuse write runs in the trainer's layout,
so that every command reads them as it reads a trained run.
"""

from __future__ import annotations

import os
import sys

import numpy as np
from absl import app, flags

from emorec import metrics

_OUT_DIR = flags.DEFINE_string(
    "out_dir",
    None,
    "centre, fuse: where the new run goes (centre: default RUN_DIR + '_centred'; fuse: default runs/fusion).",
)
_ALPHA_STEP = flags.DEFINE_float("alpha_step", 0.1, "centre: grid step of alpha over [0, 1].")
_WEIGHT_STEP = flags.DEFINE_float("weight_step", 0.05, "fuse: grid step of the weights (they sum to 1).")
_RESAMPLES = flags.DEFINE_integer("resamples", 10000, "paired: bootstrap resamples of the test actors.")
_SEED = flags.DEFINE_integer("bootstrap_seed", 0, "paired: seed of the resampling.")
_PLOT = flags.DEFINE_string(
    "plot",
    None,
    "paired: a bar plot of both runs' accuracy per test actor; compare: a "
    "bar plot of the runs (default comparison.png).",
)
_METRIC = flags.DEFINE_enum("metric", "accuracy", list(metrics.HEADLINE), "compare: the metric plotted.")

USAGE = "give a command and run folders: centre RUN | fuse RUN RUN [...] | paired RUN_A RUN_B | compare RUN [...]"


def _summary_line(what: str, summary: dict, model_dir: str) -> str:
    test = summary["test_clip_accuracy"]
    return (
        f"{what}: clip-level test accuracy {test['mean']:.3f} ± {test['std']:.3f} "
        f"(UAR {summary['test_clip_uar']['mean']:.3f}) over {summary['folds']} folds; {model_dir}"
    )


def centre(run_dirs: list[str]):
    from emorec.evaluation import centring, runs

    if len(run_dirs) != 1:
        raise app.UsageError("centre takes one run folder")
    model_dir = _OUT_DIR.value or run_dirs[0] + "_centred"
    runs.check_new_run(model_dir, run_dirs, "centre")
    results, summary = centring.centre_run(run_dirs[0], model_dir, _ALPHA_STEP.value)
    for r in results:
        print(
            f"fold {r['fold']}: alpha {r['alpha']:.1f}, validation {r['validation']['clip']['accuracy']:.3f}, "
            f"test {r['test']['clip']['accuracy']:.3f} ({r['uncentred_test_accuracy']:.3f} uncentred)"
        )
    print(_summary_line(f"{os.path.basename(run_dirs[0])} centred per speaker", summary, model_dir))


def fuse(run_dirs: list[str]):
    from emorec.evaluation import fusion, runs

    if len(run_dirs) < 2:
        raise app.UsageError("fuse takes two or more run folders")
    model_dir = _OUT_DIR.value or "runs/fusion"
    runs.check_new_run(model_dir, run_dirs, "fuse")
    results, summary = fusion.fuse_runs(run_dirs, model_dir, _WEIGHT_STEP.value)
    for r in results:
        print(
            f"fold {r['fold']}: weights {r['weights']}, validation {r['validation']['clip']['accuracy']:.3f}, "
            f"test {r['test']['clip']['accuracy']:.3f}"
        )
    print(_summary_line(f"fused {' + '.join(os.path.basename(r) for r in run_dirs)}", summary, model_dir))
    members = {
        name: np.mean([r["member_validation_accuracy"][name] for r in results])
        for name in results[0]["member_validation_accuracy"]
    }
    best, fused = max(members, key=members.get), summary["validation_clip_accuracy"]["mean"]
    print(
        f"validation, each actor fused with weights chosen without it: {fused:.3f}; the best member, {best}: "
        f"{members[best]:.3f}; validation prefers {'the fusion' if fused > members[best] else best}"
    )


def check_plot(path: str | None) -> None:
    """--plot is made writable before any work, so that a run cannot fail at its end."""
    from emorec import folders

    if path:
        folders.refuse_unwritable(f"--plot {path}", path, file=True)


def paired(run_dirs: list[str]):
    from emorec import plots
    from emorec.evaluation import paired as pairing

    if len(run_dirs) != 2:
        raise app.UsageError("paired takes two run folders: RUN_A RUN_B")
    check_plot(_PLOT.value)
    r = pairing.compare(*run_dirs, _RESAMPLES.value, _SEED.value)
    a, b = (os.path.basename(d) for d in run_dirs)
    print(pairing.describe(r, a, b))
    if _PLOT.value:
        speakers = list(r["per_actor"])
        plots.per_speaker(
            speakers,
            {name: [r["per_actor"][s][i] for s in speakers] for i, name in enumerate((a, b))},
            _PLOT.value,
            f"{a} against {b}: {r['difference']:+.3f} ({r['interval'][0]:+.3f} to {r['interval'][1]:+.3f})",
        )


def compare(run_dirs: list[str]):
    from emorec import plots
    from emorec.evaluation import tables

    if not run_dirs:
        raise app.UsageError("compare takes one or more run folders")
    plot = _PLOT.value or "comparison.png"
    check_plot(plot)
    key = f"test_clip_{_METRIC.value}"
    summaries = tables.load(run_dirs, (key,))
    print("Clip-level results, mean ± spread over folds:\n")
    print(tables.comparison(summaries))
    plots.comparison(
        [(f"{s['run']}\n({tables.modality(s)})", s[key]["mean"], s[key]["std"]) for s in summaries], plot, _METRIC.value
    )
    print(f"\nPlot: {plot}", file=sys.stderr)


COMMANDS = {"centre": centre, "fuse": fuse, "paired": paired, "compare": compare}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise app.UsageError(USAGE)
    COMMANDS[argv[1]]([os.path.normpath(r) for r in argv[2:]])


def run() -> int:
    """The command, refusals in one line; `--help` shows this module's doc also where the process's
    `__main__` is the installed `emorec-evaluate` script, which has none."""
    from emorec.errors import absl_command

    script = sys.modules["__main__"]
    script.__doc__ = script.__doc__ or __doc__
    return absl_command(main, "emorec-evaluate")


if __name__ == "__main__":
    sys.exit(run())
