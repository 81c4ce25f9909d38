"""A run's results on disk, one schema for every kind of run (trained, baseline, centred,
fused): per fold `fold_K/metrics.json` and `fold_K/predictions.npz`, over folds
`summary.json`.

    metrics.json: what the fold chose or learnt ({"fold", "train_seconds", ...}) and, for
    each of "validation" and "test", {"window": scores, "clip": scores} (emorec.metrics).
    summary.json: {"model", "config", "classes", "folds", "runs" (the runs a derived one was
    made from), "{part}_{level}_{score}": {"mean", "std", "values"} for every part, level
    and headline score, "train_seconds": the same, anything the run adds, "per_fold": the
    folds' metrics.json}.
"""

from __future__ import annotations

import json
import os

from emorec import metrics
from emorec.errors import UserError
from emorec.evaluation import predictions

SUMMARY = "summary.json"


def scores(parts: dict, class_names) -> dict:
    """{part: {"window", "clip"}} of clip-level predictions {part: (probabilities, labels,
    names)}: one row per clip, so the window level is the clip level."""
    out = {}
    for part, (probabilities, labels, _) in parts.items():
        clip = metrics.summarize(probabilities, labels, class_names)
        out[part] = {"window": clip, "clip": clip}
    return out


def write_fold(fold_dir: str, result: dict, parts: dict | None = None) -> dict:
    """Writes the fold's metrics.json and, given its clip-level predictions, predictions.npz."""
    os.makedirs(fold_dir, exist_ok=True)
    if parts is not None:
        predictions.save(fold_dir, parts)
    with open(os.path.join(fold_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def write_summary(
    run_dir: str, results: list[dict], model: str, config: str, classes: int, runs: list[str] = (), **extra
) -> dict:
    """Writes summary.json over the folds' results; returns it without per_fold."""
    summary = {"model": model, "config": config, "classes": classes, "folds": len(results), "runs": list(runs)}
    for part in predictions.PARTS:
        for level in ("window", "clip"):
            summary.update(metrics.over_folds([r[part][level] for r in results], f"{part}_{level}"))
    summary["train_seconds"] = metrics.mean_and_spread([r["train_seconds"] for r in results])
    summary.update(extra)
    with open(os.path.join(run_dir, SUMMARY), "w") as f:
        json.dump({**summary, "per_fold": results}, f, indent=1)
    return summary


# The fields of a summary that are not scores over folds ({"mean", "std", "values"}).
DESCRIBING = ("model", "config", "classes", "folds", "runs")
# What a run derived from others (centre, fuse) reads of each one's summary.
MEMBER = ("model", "config", "classes", "train_seconds")


def read_summary(run_dir: str, needs: tuple[str, ...] = ()) -> dict:
    """A finished run's summary.json; a UserError naming the file where it cannot be read or
    is damaged: not JSON, not an object, or without a field of `needs` (a score: its mean,
    spread and values), which the command would otherwise meet as a KeyError halfway through."""
    path = os.path.join(run_dir, SUMMARY)
    if not os.path.exists(path):
        raise UserError(
            f"{path} not found: is {run_dir!r} a finished run of trainers.train, "
            "trainers.baseline, or a centred or fused run?"
        )
    again = "run the command that wrote it again"
    try:
        with open(path) as f:
            summary = json.load(f)
    except OSError as e:
        raise UserError(f"{path} could not be read ({e.strerror})") from None
    except ValueError as e:  # JSON's errors, and bytes that are not text
        raise UserError(f"{path} is damaged ({type(e).__name__}: {e}): {again}") from None
    if not isinstance(summary, dict):
        raise UserError(f"{path} is damaged (a JSON {type(summary).__name__}, not an object): {again}")
    malformed = [
        k
        for k in needs
        if k not in summary
        or k not in DESCRIBING
        and not (isinstance(summary[k], dict) and {"mean", "std", "values"} <= summary[k].keys())
    ]
    if malformed:
        raise UserError(f"{path} is damaged (missing or malformed: {', '.join(malformed)}): {again}")
    return summary


def check_new_run(out_dir: str, inputs: list[str], kind: str) -> None:
    """Refuses, before any work, an --out_dir that a derived run (`kind`: centre, fuse) would
    write over: one of its `inputs`, a folder holding another finished run (its summary.json)
    or the folds of one unfinished or still running (fold_K without a summary). The rerun of
    the same command, the same kind of run from the same inputs, replaces its own."""
    target = os.path.realpath(out_dir)
    for run_dir in inputs:
        if os.path.realpath(run_dir) == target:
            raise UserError(
                f"--out_dir {out_dir} is the input run {run_dir}: writing there would overwrite it; give another folder"
            )
    if os.path.exists(os.path.join(out_dir, SUMMARY)):
        summary = read_summary(out_dir)
        made_by = {"alpha": "centre", "weights": "fuse"}
        kinds = {made_by[k] for fold in summary.get("per_fold", [])[:1] for k in fold if k in made_by}
        if kinds != {kind} or [os.path.realpath(r) for r in summary.get("runs", [])] != [
            os.path.realpath(r) for r in inputs
        ]:
            raise UserError(
                f"--out_dir {out_dir} holds another run ({os.path.join(out_dir, SUMMARY)}): give "
                "another folder, or remove that one first"
            )
    elif os.path.isdir(out_dir) and any(name.startswith("fold_") for name in os.listdir(out_dir)):
        raise UserError(
            f"--out_dir {out_dir} holds the folds of another run without its {SUMMARY} (one unfinished "
            "or still running): give another folder"
        )


def member_seconds(members: list[dict]) -> list[float]:
    """Per fold, what a run derived from runs with these summaries cost: the sum of its
    members' training (every run lists its folds' seconds in fold order)."""
    return [float(sum(fold)) for fold in zip(*(m["train_seconds"]["values"] for m in members))]
