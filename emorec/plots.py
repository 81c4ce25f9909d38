"""Figures a person would rather look at than read: confusion matrices, training curves,
comparisons of runs, per-speaker accuracies. Written as PNG files with matplotlib's
non-interactive backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: str, dpi: int = 120) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _score_axis(ax, metric: str):
    ax.set_ylabel(f"clip-level {metric}")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)


def confusion_matrix(matrix, class_names, path: str, title: str = "") -> str:
    matrix = np.asarray(matrix, float)
    rows = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            if matrix[i, j]:
                ax.text(
                    j,
                    i,
                    f"{int(matrix[i, j])}",
                    ha="center",
                    va="center",
                    color="white" if rows[i, j] > 0.5 else "black",
                    fontsize=8,
                )
    fig.colorbar(image, ax=ax, label="share of the true class")
    ax.set_title(title or "confusion matrix")
    return _save(fig, path)


def training_curves(history: dict, path: str, title: str = "") -> str:
    """Loss and accuracy per epoch, training against validation."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=(prefix or "train_") + metric)
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return _save(fig, path)


def comparison(rows, path: str, metric: str = "accuracy") -> str:
    """rows: (label, mean, std) per run; a bar per run with its spread over folds."""
    labels, means, stds = zip(*rows)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(rows)), 4))
    ax.bar(range(len(rows)), means, yerr=stds, capsize=4, color="tab:blue")
    ax.set_xticks(range(len(rows)), labels, rotation=30, ha="right")
    _score_axis(ax, metric)
    return _save(fig, path)


def per_speaker(speakers, accuracies: dict, path: str, title: str = "") -> str:
    """accuracies: {run: accuracy per speaker}; bars side by side per speaker, where a mean
    over speakers hides that one run fails a voice the other gets right."""
    fig, ax = plt.subplots(figsize=(min(max(6, 0.3 * len(speakers) * len(accuracies)), 14), 4))
    width = 0.8 / len(accuracies)
    for i, (run, values) in enumerate(accuracies.items()):
        ax.bar(np.arange(len(speakers)) + (i - (len(accuracies) - 1) / 2) * width, values, width, label=run)
    ax.set_xticks(range(len(speakers)), [str(s) for s in speakers])
    ax.set_xlabel("test speaker (actor)")
    _score_axis(ax, "accuracy")
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


def accuracy_by_evidence(amounts, curves: dict, path: str, title: str = "", references: dict | None = None) -> str:
    """Accuracy (y) against how much of the speaker was heard before (x: 0, 1, 2, ..., 'all'),
    one line per curve ({label: accuracies}); a curve named 'mean' drawn bold; `references`
    ({label: accuracy}) as dashed lines across."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    x = np.arange(len(amounts))
    for label, value in (references or {}).items():
        ax.axhline(value, ls="--", lw=1, color="grey")
        ax.annotate(
            f"{label}: {value:.3f}",
            (x[-1], value),
            textcoords="offset points",
            xytext=(0, -11),
            ha="right",
            fontsize=7,
            color="dimgrey",
        )
    for label, values in curves.items():
        bold = label == "mean"
        ax.plot(
            x,
            values,
            marker="o",
            lw=2.5 if bold else 1,
            alpha=1 if bold else 0.5,
            label=label,
            color="black" if bold else None,
        )
        if bold:
            for xi, v in zip(x, values):
                ax.annotate(f"{v:.3f}", (xi, v), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xticks(x, [str(a) for a in amounts])
    ax.set_xlabel("clips of the speaker heard before")
    _score_axis(ax, "accuracy")
    ax.set_ylim(0.4, 1)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def timeline(rows: list[dict], class_names, path: str, title: str = "") -> str:
    """Probabilities over time, a line per class; stretches without a face shaded."""
    times = np.array([r["time"] for r in rows])
    fig, ax = plt.subplots(figsize=(11, 4))
    for name in class_names:
        ax.plot(times, [r["probabilities"][name] for r in rows], label=name, linewidth=1.5)
    for row, t in zip(rows, times):
        if row["face"] is False:
            ax.axvspan(t - 0.02, t + 0.02, color="grey", alpha=0.3, linewidth=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(ncol=4, fontsize=8, loc="upper right")
    ax.set_title(title + ("  (grey: no face found)" if any(r["face"] is False for r in rows) else ""))
    return _save(fig, path, dpi=110)
