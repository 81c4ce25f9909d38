"""Per-speaker centring of a classifier's outputs: from each clip's log-probabilities, alpha
times their mean over all of its speaker's clips is taken away.

Why: a voice pulls all of its speaker's clips toward the same classes. In mel_cnn2d's fold 4
on real RAVDESS, actor 15 (4 neutral clips and 8 of each other emotion) got 17 clips called
surprised and 16 angry, and 0.43 accuracy. Where every speaker acts every emotion, as in
RAVDESS, the mean output over a speaker's clips estimates that pull. It reads a speaker's
clips, all of them, never their labels, as the baselines' per-speaker normalisation and
mel_cnn2d's speaker statistics do; so it needs a speaker's set of clips, not one clip.
alpha=0 leaves the outputs as they were, 1 takes away the whole mean.

A run is centred fold by fold, alpha chosen on the fold's validation actors, whose
probabilities come from the fold's model that learnt from training actors only: alpha never
sees a clip it is scored on, and the test actors are seen by nothing but the final scoring
(their own clips' mean output, not their labels, is what centres them). The centred run's
validation scores are of each validation actor centred with the alpha chosen on the fold's
other validation actors, as a fused run's are (emorec.evaluation.fusion).
"""

from __future__ import annotations

import os

import numpy as np
from scipy import special

from emorec import metrics, ravdess
from emorec.evaluation import predictions, runs


def centre(probabilities: np.ndarray, speakers: np.ndarray, alpha: float) -> np.ndarray:
    """probabilities [N, C] of clips by speakers [N], centred and renormalised."""
    logits = np.log(np.clip(probabilities, 1e-7, 1.0))
    for s in np.unique(speakers):
        mine = speakers == s
        logits[mine] -= alpha * logits[mine].mean(0)
    return special.softmax(logits, axis=1)


def choose_alpha(probabilities: np.ndarray, labels: np.ndarray, speakers: np.ndarray, step: float) -> float:
    """The alpha on a grid over [0, 1] with the best accuracy on these (validation) clips, ties
    to the higher likelihood, then to the smaller alpha (centring a speaker whose outputs are
    already balanced changes them only by rounding)."""

    def key(alpha):
        accuracy, likelihood = metrics.accuracy_and_likelihood(centre(probabilities, speakers, alpha), labels)
        return accuracy, round(likelihood, 6)

    return round(float(max(np.linspace(0.0, 1.0, round(1 / step) + 1), key=key)), 6)


def centre_run(run_dir: str, model_dir: str, step: float = 0.1) -> tuple[list[dict], dict]:
    """Centres a finished run into `model_dir`, in the same layout; returns the folds' results
    (each with the test accuracy before centring) and the summary."""
    member = runs.read_summary(run_dir, runs.MEMBER)
    class_names = ravdess.class_names(member["classes"])
    results = []
    for fold, seconds in zip(predictions.common_folds([run_dir]), runs.member_seconds([member])):
        parts = predictions.load(os.path.join(run_dir, f"fold_{fold}"))
        speakers = {part: predictions.speakers(names) for part, (_, _, names) in parts.items()}
        probabilities, labels, names = parts["validation"]
        alpha = choose_alpha(probabilities, labels, speakers["validation"], step)
        held_out = predictions.speaker_held_out(
            lambda rows: choose_alpha(probabilities[rows], labels[rows], speakers["validation"][rows], step),
            lambda rows, chosen: centre(probabilities[rows], speakers["validation"][rows], chosen),
            speakers["validation"],
        )
        centred = {
            "validation": (held_out, labels, names),
            "test": (centre(parts["test"][0], speakers["test"], alpha), *parts["test"][1:]),
        }
        uncentred = float(np.mean(parts["test"][0].argmax(1) == parts["test"][1]))
        result = {
            "fold": fold,
            "alpha": alpha,
            "uncentred_test_accuracy": uncentred,
            "train_seconds": seconds,
            **runs.scores(centred, class_names),
        }
        results.append(runs.write_fold(os.path.join(model_dir, f"fold_{fold}"), result, centred))
    return results, runs.write_summary(
        model_dir, results, member["model"], member["config"], member["classes"], [run_dir]
    )
