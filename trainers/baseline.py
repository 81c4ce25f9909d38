"""The classic speech-emotion baseline on the same folds: openSMILE eGeMAPSv02 functionals
and an RBF SVM, with and without per-speaker feature normalisation.

    python -m trainers.baseline --ravdess_dir=../shared/data/ravdess --model_dir=runs/egemaps_svm

The SVM's C and gamma are chosen by grouped cross-validation inside each fold's training
actors; validation and test actors are never seen while choosing. Per-speaker
normalisation standardises each actor's features with that actor's own mean and spread
(the usual speaker normalisation of this field; it needs a few clips of the speaker).
Writes summary.json per variant in trainers.train's format, so trainers.compare tables them
beside the networks.
"""
from __future__ import annotations

import json
import os
import time

from absl import app, flags, logging

import numpy as np

from emorec import metrics, ravdess
from emorec.media import audio

_RAVDESS_DIR = flags.DEFINE_string("ravdess_dir", None, "RAVDESS folder (audio-only wavs, or AV clips).")
_MODEL_DIR = flags.DEFINE_string("model_dir", "runs/egemaps_svm", "Where results go (one folder per variant).")
_NUM_FOLDS = flags.DEFINE_integer("num_folds", None, "Folds; default one per 4 actors present (6 for 24).")
_CLASSES = flags.DEFINE_enum("classes", "8", ["8", "7"], "8 emotions, or 7 without neutral.")


def features(sources) -> np.ndarray:
    """eGeMAPSv02 functionals (88 per clip) of each clip's 16 kHz audio."""
    import opensmile
    from tqdm import tqdm

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    rows = []
    for source in tqdm(sources, desc="eGeMAPS", unit="clip"):
        rows.append(smile.process_signal(audio.load_audio(source.path), 16000).to_numpy()[0])
    return np.asarray(rows, np.float32)


def per_speaker(x: np.ndarray, actors: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for actor in np.unique(actors):
        rows = actors == actor
        out[rows] = (x[rows] - x[rows].mean(0)) / (x[rows].std(0) + 1e-6)
    return out


def fit_svm(x, y, groups):
    """An RBF SVM on standardised features, C and gamma chosen by grouped CV over actors."""
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    grid = {"svc__C": [0.1, 1, 10, 100], "svc__gamma": ["scale", 0.001, 0.01]}
    search = GridSearchCV(make_pipeline(StandardScaler(), SVC(kernel="rbf")), grid,
                          cv=GroupKFold(n_splits=min(4, len(np.unique(groups)))), n_jobs=-1)
    search.fit(x, y, groups=groups)
    return search


def main(argv):
    del argv
    if not _RAVDESS_DIR.value:
        raise app.UsageError("--ravdess_dir is required")
    num_classes = int(_CLASSES.value)
    class_names = ravdess.class_names(num_classes)
    scan = ravdess.scan(_RAVDESS_DIR.value, (3,))
    if not scan.sources:
        scan = ravdess.scan(_RAVDESS_DIR.value, (1,))
    sources = [s for s in scan.sources if s.clip.label(num_classes) is not None]
    labels = np.array([s.clip.label(num_classes) for s in sources])
    actors = np.array([s.clip.actor for s in sources])
    raw = features(sources)
    present = sorted(set(actors.tolist()))
    folds = ravdess.folds(_NUM_FOLDS.value or (6 if len(present) == 24 else max(3, len(present) // 4)), present)
    for variant, x in (("egemaps_svm", raw), ("egemaps_svm_speaker_norm", per_speaker(raw, actors))):
        results = []
        for fold in folds:
            start = time.time()
            train = np.isin(actors, fold.train)
            search = fit_svm(x[train], labels[train], actors[train])
            result = {"fold": fold.number, "actors": fold._asdict(), "train_seconds": time.time() - start,
                      "model": variant, "best_params": search.best_params_}
            for part in ("validation", "test"):
                rows = np.isin(actors, getattr(fold, part))
                # The SVM's decisions as one-hot rows: the metrics read the argmax.
                decisions = np.eye(num_classes)[search.predict(x[rows])]
                summary = metrics.summarize(decisions, labels[rows], class_names)
                result[part] = {"window": summary, "clip": summary}  # one feature vector per clip
            results.append(result)
            logging.info("%s fold %d: test accuracy %.3f", variant, fold.number, result["test"]["clip"]["accuracy"])
        run_dir = os.path.join(_MODEL_DIR.value, variant)
        os.makedirs(run_dir, exist_ok=True)
        summary = {"model": variant, "config": "audio", "classes": num_classes, "folds": len(results)}
        for part in ("validation", "test"):
            summary.update(metrics.over_folds([r[part]["clip"] for r in results], f"{part}_clip"))
        summary["train_seconds"] = metrics.mean_and_spread([r["train_seconds"] for r in results])
        with open(os.path.join(run_dir, "summary.json"), "w") as f:
            json.dump({**summary, "per_fold": results}, f, indent=1)
        print(f"{variant}: test accuracy {summary['test_clip_accuracy']['mean']:.3f} ± "
              f"{summary['test_clip_accuracy']['std']:.3f}, UAR {summary['test_clip_uar']['mean']:.3f} "
              f"over {len(results)} folds; {run_dir}")


if __name__ == "__main__":
    app.run(main)
