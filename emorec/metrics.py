"""Classification metrics for emotion recognition: accuracy, unweighted average recall (the
field's headline number: the mean of per-class recalls), macro-F1, per-class precision and
recall, and the confusion matrix; and their mean and spread over folds."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as sk

# The numbers a run is compared on (summarize's scalar scores).
HEADLINE = ("accuracy", "uar", "macro_f1")


def summarize(probabilities, labels, class_names) -> dict:
    """Metrics of predictions (argmax of probabilities [N, C]) against labels [N]. Classes
    absent from these labels do not count in the averages (UAR, macro-F1)."""
    labels = np.asarray(labels, int)
    predicted = np.argmax(probabilities, -1)
    classes = np.arange(len(class_names))
    present = np.unique(labels)
    precision, recall, _, support = sk.precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    return {
        "examples": len(labels),
        "accuracy": float(sk.accuracy_score(labels, predicted)) if len(labels) else 0.0,
        "uar": float(sk.recall_score(labels, predicted, labels=present, average="macro", zero_division=0)),
        "macro_f1": float(sk.f1_score(labels, predicted, labels=present, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "confusion": sk.confusion_matrix(labels, predicted, labels=classes).tolist(),
    }


def accuracy_and_likelihood(probabilities, labels) -> tuple[float, float]:
    """(accuracy, mean log-likelihood of the labels): how choices made on validation actors
    (fusion weights, centring) rank, the likelihood breaking ties in accuracy."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    likelihood = np.mean(np.log(probabilities[np.arange(len(labels)), labels] + 1e-12))
    return float(np.mean(probabilities.argmax(1) == labels)), float(likelihood)


def mean_and_spread(values) -> dict:
    values = np.asarray(values, float)
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "values": values.tolist(),
    }


def over_folds(scores: list[dict], prefix: str) -> dict:
    """Mean and spread of each headline score over folds' summarize() results, keyed
    `{prefix}_{name}` as summary.json holds them."""
    return {f"{prefix}_{name}": mean_and_spread([s[name] for s in scores]) for name in HEADLINE}
