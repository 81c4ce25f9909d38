"""Each actor's speaker statistics, for speaker-normalised models: computed from the stored
waveforms with the model's own features, by the function serving's enrolment uses."""

from __future__ import annotations

import collections

import numpy as np
import tensorflow as tf

from emorec import enrolment
from emorec.data import datasets

_SPEAKER_TABLES: dict = {}


def speaker_table(builder, split: str, speaker_features) -> tf.Tensor:
    """[max actor + 1, 2, *F]: each actor's statistics over all of its clips in `split` (all
    emotions; labels are not read), zeros for absent actors. Computed from the waveforms by
    `emorec.enrolment.speaker_stats` with the model's own `speaker_features`: the
    function and the features serving's enrolment uses."""
    if speaker_features is None:
        raise ValueError("speaker statistics need the model's own features: make the WindowSpec with for_model")
    key = (builder.data_dir, split, speaker_features.features)
    if key not in _SPEAKER_TABLES:
        by_actor = collections.defaultdict(list)
        for example in datasets.examples(builder, split, faces=False, audio=True, skip_faces=True):
            by_actor[int(example["actor"])].append(example["waveform"].numpy())
        stats = {actor: enrolment.speaker_stats(speaker_features, waveforms) for actor, waveforms in by_actor.items()}
        table = np.zeros((max(stats) + 1, *next(iter(stats.values())).shape), np.float32)
        for actor, value in stats.items():
            table[actor] = value
        _SPEAKER_TABLES[key] = tf.constant(table)
    return _SPEAKER_TABLES[key]
