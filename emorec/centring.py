"""Per-speaker centring of a classifier's outputs: from each clip's log-probabilities, alpha
times their mean over all of its speaker's clips is taken away.

Why: a voice pulls all of its speaker's clips toward the same classes. In mel_cnn2d's fold 4
on real RAVDESS, actor 15 (4 neutral clips and 8 of each other emotion) got 17 clips called
surprised and 16 angry, and 0.43 accuracy. Where every speaker acts every emotion, as in
RAVDESS, the mean output over a speaker's clips estimates that pull. It reads a speaker's
clips, all of them, never their labels, as the baselines' per-speaker normalisation and
mel_cnn2d's speaker statistics do; so it needs a speaker's set of clips, not one clip.
alpha=0 leaves the outputs as they were, 1 takes away the whole mean.
"""
from __future__ import annotations

import numpy as np

from emorec import metrics


def centre(probabilities: np.ndarray, speakers: np.ndarray, alpha: float) -> np.ndarray:
    """probabilities [N, C] of clips by speakers [N], centred and renormalised."""
    logits = np.log(np.clip(probabilities, 1e-7, 1.0))
    for s in np.unique(speakers):
        mine = speakers == s
        logits[mine] -= alpha * logits[mine].mean(0)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def choose_alpha(probabilities: np.ndarray, labels: np.ndarray, speakers: np.ndarray, step: float) -> float:
    """The alpha on a grid over [0, 1] with the best accuracy on these (validation) clips, ties
    to the higher likelihood, then to the smaller alpha (centring a speaker whose outputs are
    already balanced changes them only by rounding)."""
    def key(alpha):
        accuracy, likelihood = metrics.accuracy_and_likelihood(centre(probabilities, speakers, alpha), labels)
        return accuracy, round(likelihood, 6)
    return round(float(max(np.linspace(0.0, 1.0, round(1 / step) + 1), key=key)), 6)
