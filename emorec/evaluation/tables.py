"""Tables of results: markdown tables, and the comparison of finished runs (clip-level test
results, mean ± spread over folds) that the reference study draws between models and
modalities."""

from __future__ import annotations

import os

from emorec.evaluation import runs


def markdown_table(rows, header) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def modality(summary: dict) -> str:
    if summary["config"] == "audio" or summary["model"] in ("wave_cnn1d", "mel_cnn2d"):
        return "audio"
    if "+" in summary["model"] or summary["model"] in ("per_frame", "av_transformer"):
        return "audio + video"
    return "video"


# What `comparison` reads of each summary.
COMPARED = (
    "model",
    "config",
    "folds",
    "test_clip_accuracy",
    "test_clip_uar",
    "test_clip_macro_f1",
    "validation_clip_accuracy",
    "train_seconds",
)


def load(run_dirs: list[str], needs: tuple[str, ...] = ()) -> list[dict]:
    """Each run's summary, with its folder's name as `run`; one without a field `comparison`
    reads, or `needs`, is said damaged before any table is drawn."""
    return [
        {"run": os.path.basename(os.path.normpath(r)), **runs.read_summary(r, COMPARED + tuple(needs))}
        for r in run_dirs
    ]


def comparison(summaries: list[dict]) -> str:
    """Runs as rows, best test accuracy first."""

    def cell(s, key):
        return f"{s[key]['mean']:.3f} ± {s[key]['std']:.3f}"

    header = [
        "run",
        "model",
        "modality",
        "folds",
        "test accuracy",
        "test UAR",
        "test macro-F1",
        "validation accuracy",
        "s per fold",
    ]
    rows = [
        [
            s["run"],
            s["model"],
            modality(s),
            s["folds"],
            cell(s, "test_clip_accuracy"),
            cell(s, "test_clip_uar"),
            cell(s, "test_clip_macro_f1"),
            cell(s, "validation_clip_accuracy"),
            f"{s['train_seconds']['mean']:.0f}",
        ]
        for s in sorted(summaries, key=lambda s: -s["test_clip_accuracy"]["mean"])
    ]
    return markdown_table(rows, header)
