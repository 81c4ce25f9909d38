"""Classification metrics for emotion recognition: accuracy, unweighted average recall (the
field's headline number: the mean of per-class recalls), macro-F1, per-class precision and
recall, and the confusion matrix."""
from __future__ import annotations

import numpy as np


def confusion(labels, predictions, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(labels, int), np.asarray(predictions, int)), 1)
    return matrix


def summarize(probabilities, labels, class_names) -> dict:
    """Metrics of predictions (argmax of probabilities [N, C]) against labels [N]."""
    matrix = confusion(labels, np.argmax(probabilities, -1), len(class_names))
    true, predicted, correct = matrix.sum(1), matrix.sum(0), np.diag(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(true > 0, correct / true, np.nan)
        precision = np.where(predicted > 0, correct / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = true > 0  # classes absent from these labels do not count in the averages
    return {
        "examples": int(matrix.sum()),
        "accuracy": float(correct.sum() / max(matrix.sum(), 1)),
        "uar": float(np.mean(recall[present])),
        "macro_f1": float(np.mean(np.nan_to_num(f1)[present])),
        "per_class": {name: {"precision": float(precision[i]), "recall": float(np.nan_to_num(recall[i])),
                             "support": int(true[i])} for i, name in enumerate(class_names)},
        "confusion": matrix.tolist(),
    }


# The numbers a run is compared on (summarize's scalar scores).
HEADLINE = ("accuracy", "uar", "macro_f1")


def accuracy_and_likelihood(probabilities, labels) -> tuple[float, float]:
    """(accuracy, mean log-likelihood of the labels): how choices made on validation actors
    (fusion weights, centring) rank, the likelihood breaking ties in accuracy."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    likelihood = np.mean(np.log(probabilities[np.arange(len(labels)), labels] + 1e-12))
    return float(np.mean(probabilities.argmax(1) == labels)), float(likelihood)


def mean_and_spread(values) -> dict:
    values = np.asarray(values, float)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "values": values.tolist()}


def over_folds(scores: list[dict], prefix: str) -> dict:
    """Mean and spread of each headline score over folds' summarize() results, keyed
    `{prefix}_{name}` as summary.json holds them."""
    return {f"{prefix}_{name}": mean_and_spread([s[name] for s in scores]) for name in HEADLINE}


def markdown_table(rows, header) -> str:
    """Rows under a header as a markdown table: how the demo, the benchmarks and
    trainers.compare print results."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)
