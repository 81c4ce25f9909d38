"""The classic speech-emotion baselines on the same folds: openSMILE functionals and an SVM,
with and without per-speaker feature normalisation.

    python -m trainers.baseline --ravdess_dir=../shared/data/ravdess --model_dir=runs/ravdess_audio

Two feature sets, each with the classifier this field pairs with it: eGeMAPSv02 (88
functionals) with an RBF SVM, and ComParE-2016 (6373) with a linear SVM. Per fold, as
trainers.train --refit does: the SVM whose C (and gamma) grouped cross-validation over the
training actors chose scores the validation actors; the test actors are scored by an SVM
chosen the same way inside the training and validation actors and fitted on them. Test
actors are never seen while choosing or fitting. Per-speaker normalisation standardises
each actor's features with that actor's own mean and spread (the usual speaker
normalisation of this field; it needs a few clips of the speaker, not their labels).
Writes, per variant, a run in trainers.train's layout (emorec.evaluation.runs), which
`python -m emorec.evaluation` tables, pairs and fuses beside the networks.
"""

from __future__ import annotations

import os
import time

from absl import app, flags, logging

import numpy as np

from emorec import ravdess
from emorec.evaluation import predictions, runs
from emorec.media import audio, video
import trainers

# name: (openSMILE feature set, SVM kernel, hyperparameter grid)
FEATURE_SETS = {
    "egemaps": ("eGeMAPSv02", "rbf", {"svc__C": [0.1, 1, 10, 100], "svc__gamma": ["scale", 0.001, 0.01]}),
    "compare": ("ComParE_2016", "linear", {"svc__C": [1e-4, 1e-3, 1e-2, 1e-1]}),
}

_RAVDESS_DIR = flags.DEFINE_string("ravdess_dir", None, "RAVDESS folder (audio-only wavs, or AV clips).")
_MODEL_DIR = flags.DEFINE_string("model_dir", "runs/baselines", "Where results go (one folder per variant).")
_FEATURES = flags.DEFINE_multi_enum("features", list(FEATURE_SETS), list(FEATURE_SETS), "Feature sets to run.")
_NUM_FOLDS = flags.DEFINE_integer("num_folds", None, "Folds; default one per 4 actors present (6 for 24).")
_CLASSES = flags.DEFINE_enum("classes", "8", ["8", "7"], "8 emotions, or 7 without neutral.")


def features(sources, feature_set: str = "eGeMAPSv02") -> np.ndarray:
    """openSMILE functionals of each clip's 16 kHz audio, one row per clip."""
    import opensmile
    from tqdm import tqdm

    smile = opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set), feature_level=opensmile.FeatureLevel.Functionals
    )
    rows = []
    for source in tqdm(sources, desc=feature_set, unit="clip"):
        with video.local_file(source) as path:  # a zip member is read as the builder reads it
            rows.append(smile.process_signal(audio.load_audio(path), 16000).to_numpy()[0])
    return np.asarray(rows, np.float32)


def per_speaker(x: np.ndarray, actors: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for actor in np.unique(actors):
        rows = actors == actor
        out[rows] = (x[rows] - x[rows].mean(0)) / (x[rows].std(0) + 1e-6)
    return out


def fit_svm(x, y, groups, kernel: str, grid: dict):
    """An SVM on standardised features with probability outputs; its hyperparameters are
    chosen by grouped CV over actors. Returns (fitted pipeline, chosen hyperparameters)."""
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    search = GridSearchCV(
        make_pipeline(StandardScaler(), SVC(kernel=kernel)),
        grid,
        refit=False,
        cv=GroupKFold(n_splits=min(4, len(np.unique(groups)))),
        n_jobs=-1,
    )
    search.fit(x, y, groups=groups)
    params = {key.removeprefix("svc__"): value for key, value in search.best_params_.items()}
    # Platt scaling gives the probabilities that late fusion weighs against the networks'.
    model = make_pipeline(StandardScaler(), SVC(kernel=kernel, probability=True, random_state=0, **params))
    return model.fit(x, y), params


def probabilities_of(model, x, num_classes: int) -> np.ndarray:
    """[N, num_classes], zeros for classes the SVM never saw."""
    out = np.zeros((len(x), num_classes), np.float32)
    out[:, model.classes_] = model.predict_proba(x)
    return out


def run_fold(fold: ravdess.Fold, x, labels, actors, names, kernel: str, grid: dict, class_names, fold_dir: str) -> dict:
    start = time.time()
    result = {"fold": fold.number, "actors": fold._asdict(), "best_params": {}}
    clips = {}
    for part, fit_actors in (("validation", fold.train), ("test", fold.train + fold.validation)):
        fit = np.isin(actors, fit_actors)
        model, result["best_params"][part] = fit_svm(x[fit], labels[fit], actors[fit], kernel, grid)
        rows = np.isin(actors, getattr(fold, part))
        clips[part] = (probabilities_of(model, x[rows], len(class_names)), labels[rows], names[rows])
    result["train_seconds"] = time.time() - start
    return runs.write_fold(fold_dir, {**result, **runs.scores(clips, class_names)}, clips)


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
    names = np.array([predictions.clip_name(s.member or s.path) for s in sources])
    present = sorted(set(actors.tolist()))
    folds = ravdess.folds(_NUM_FOLDS.value or (6 if len(present) == 24 else max(3, len(present) // 4)), present)
    for name in _FEATURES.value:
        feature_set, kernel, grid = FEATURE_SETS[name]
        raw = features(sources, feature_set)
        for variant, x in ((f"{name}_svm", raw), (f"{name}_svm_speaker_norm", per_speaker(raw, actors))):
            run_dir = os.path.join(_MODEL_DIR.value, variant)
            results = []
            for fold in folds:
                results.append(
                    run_fold(
                        fold,
                        x,
                        labels,
                        actors,
                        names,
                        kernel,
                        grid,
                        class_names,
                        os.path.join(run_dir, f"fold_{fold.number}"),
                    )
                )
                logging.info(
                    "%s fold %d: test accuracy %.3f", variant, fold.number, results[-1]["test"]["clip"]["accuracy"]
                )
            summary = runs.write_summary(run_dir, results, variant, "audio", num_classes)
            print(
                f"{variant}: test accuracy {summary['test_clip_accuracy']['mean']:.3f} ± "
                f"{summary['test_clip_accuracy']['std']:.3f}, UAR {summary['test_clip_uar']['mean']:.3f} "
                f"over {len(results)} folds; {run_dir}"
            )


if __name__ == "__main__":
    trainers.run(main, "trainers.baseline")
