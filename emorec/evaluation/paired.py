"""Paired comparison of two finished runs on the same test clips: is A better than B?

Fold means whose spread is 6-11 points cannot tell two systems 2 points apart; the same clips
scored by both can, as far as the test actors go. Gives each run's pooled clip-level test
accuracy (every fold's test clips together), their difference per fold and pooled, the clips
only one of them gets right, and a 95% interval for the pooled difference from a bootstrap
over test actors: one actor's clips share a voice and a way of acting, so they are drawn
together, not as independent clips (which would make the interval far too narrow).
"""

from __future__ import annotations

import numpy as np

from emorec.evaluation import predictions


def correct_by_clip(run_a: str, run_b: str) -> dict:
    """{'a', 'b': bool [clips], 'actor': int [clips], 'fold': int [clips]} over every fold's
    test clips, checked to be the same clips with the same labels in both runs."""
    columns = {"a": [], "b": [], "actor": [], "fold": []}
    for fold in predictions.common_folds([run_a, run_b]):
        (p_a, p_b), labels, names = predictions.aligned([run_a, run_b], fold)["test"]
        columns["a"].append(p_a.argmax(1) == labels)
        columns["b"].append(p_b.argmax(1) == labels)
        columns["actor"].append(predictions.speakers(names))
        columns["fold"].append(np.full(len(labels), fold))
    return {key: np.concatenate(value) for key, value in columns.items()}


def actor_bootstrap(a, b, actors, resamples: int, seed: int = 0) -> np.ndarray:
    """Pooled accuracy differences (a - b) over `resamples` draws of the actors with replacement."""
    ids, index = np.unique(actors, return_inverse=True)
    clips = np.bincount(index, minlength=len(ids))
    gained = np.bincount(index, weights=a.astype(float) - b, minlength=len(ids))
    draws = np.random.default_rng(seed).integers(0, len(ids), (resamples, len(ids)))
    return gained[draws].sum(1) / clips[draws].sum(1)


def compare(run_a: str, run_b: str, resamples: int, seed: int = 0) -> dict:
    c = correct_by_clip(run_a, run_b)
    differences = actor_bootstrap(c["a"], c["b"], c["actor"], resamples, seed)
    low, high = np.percentile(differences, [2.5, 97.5])
    return {
        "accuracy_a": c["a"].mean(),
        "accuracy_b": c["b"].mean(),
        "difference": c["a"].mean() - c["b"].mean(),
        "interval": (float(low), float(high)),
        "a_better_share": float(np.mean(differences > 0)),
        "only_a": int(np.sum(c["a"] & ~c["b"])),
        "only_b": int(np.sum(c["b"] & ~c["a"])),
        "clips": len(c["a"]),
        "actors": len(np.unique(c["actor"])),
        "resamples": resamples,
        "per_actor": {
            int(s): (float(c["a"][c["actor"] == s].mean()), float(c["b"][c["actor"] == s].mean()))
            for s in np.unique(c["actor"])
        },
        "per_fold": {
            int(f): float(c["a"][c["fold"] == f].mean() - c["b"][c["fold"] == f].mean()) for f in np.unique(c["fold"])
        },
    }


def describe(result: dict, a: str, b: str) -> str:
    """One paragraph of `compare`'s result, naming the runs a and b."""
    r = result
    folds = ", ".join(f"{d:+.3f}" for d in r["per_fold"].values())
    return (
        f"{a} against {b}, {r['clips']} test clips of {r['actors']} actors: clip-level accuracy "
        f"{r['accuracy_a']:.3f} against {r['accuracy_b']:.3f}, difference {r['difference']:+.3f} "
        f"(95% interval over test actors {r['interval'][0]:+.3f} to {r['interval'][1]:+.3f}; above zero in "
        f"{r['a_better_share']:.0%} of {r['resamples']} resamples); per fold {folds}; clips only {a} gets "
        f"right {r['only_a']}, only {b} {r['only_b']}"
    )
