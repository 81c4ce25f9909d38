"""Compares training runs: a markdown table and a bar plot of clip-level test results.

    python -m trainers.compare RUN_DIR [RUN_DIR ...] [--out=comparison.png]

Reads each run's summary.json (mean and spread over its folds), as the reference study
compares models and modalities.
"""
from __future__ import annotations

import os
import sys

from absl import app, flags

from emorec import metrics, plots
from trainers import predictions

_OUT = flags.DEFINE_string("out", "comparison.png", "Where the bar plot goes.")
_METRIC = flags.DEFINE_enum("metric", "accuracy", list(metrics.HEADLINE), "Metric to plot.")


def load(run_dir: str) -> dict:
    return {"run": os.path.basename(os.path.normpath(run_dir)), **predictions.summary(run_dir)}


def modality(summary: dict) -> str:
    if summary["config"] == "audio" or summary["model"] in ("wave_cnn1d", "mel_cnn2d"):
        return "audio"
    if "+" in summary["model"] or summary["model"] in ("per_frame", "av_transformer"):
        return "audio + video"
    return "video"


def table(summaries: list[dict]) -> str:
    def cell(s, key):
        return f"{s[key]['mean']:.3f} ± {s[key]['std']:.3f}"
    header = ["run", "model", "modality", "folds", "test accuracy", "test UAR", "test macro-F1",
              "validation accuracy", "s per fold"]
    rows = [[s["run"], s["model"], modality(s), s["folds"], cell(s, "test_clip_accuracy"), cell(s, "test_clip_uar"),
             cell(s, "test_clip_macro_f1"), cell(s, "validation_clip_accuracy"), f"{s['train_seconds']['mean']:.0f}"]
            for s in sorted(summaries, key=lambda s: -s["test_clip_accuracy"]["mean"])]
    return metrics.markdown_table(rows, header)


def main(argv):
    runs = argv[1:]
    if not runs:
        raise app.UsageError("give one or more run folders")
    summaries = [load(r) for r in runs]
    print("Clip-level results, mean ± spread over folds:\n")
    print(table(summaries))
    key = f"test_clip_{_METRIC.value}"
    plots.comparison([(f"{s['run']}\n({modality(s)})", s[key]["mean"], s[key]["std"]) for s in summaries],
                     _OUT.value, _METRIC.value)
    print(f"\nPlot: {_OUT.value}", file=sys.stderr)


if __name__ == "__main__":
    app.run(main)
