"""A frozen encoder's features, computed once for every evaluation window of every clip and
kept on disk, so that only what sits on top of the encoder trains: 5-fold CV of a frozen
Whisper model takes minutes on 2 CPU cores, not hours.

The cache is exact, not an approximation: a frozen encoder gives the same features every
epoch, and there is no random augmentation on this path (windows are the `eval_dataset`'s,
W / 2 apart; Whisper's speed copies are fixed, and part of the served model too). Speaker
statistics come from the cached features of each actor's own clips (all emotions, no
labels), the windows `emorec.enrolment` cuts at serving.
"""
from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from emorec import ravdess
from emorec.data import windows
from emorec.evaluation import predictions
from emorec.media.features import speaker_statistics


def compute(features: keras.Model, builder, spec: windows.WindowSpec, path: str, batch_size: int = 8) -> dict:
    """{'features' [N, ...], 'labels' [N], 'names' [N], 'actors' [N]} for every evaluation
    window of every clip in the dataset; read from `path` when it was made for the same
    dataset, encoder weights and windows."""
    key = (f"{builder.data_dir}|{features.name}|{features.output.shape[1:]}|{spec.frames}|{spec.num_classes}|"
           f"{_weights_digest(features)}")
    if os.path.exists(path):
        with np.load(path) as f:
            if str(f["key"]) == key:
                return {k: f[k] for k in ("features", "labels", "names", "actors")}
    ds = windows.eval_dataset(builder, "+".join(builder.info.splits), dataclasses.replace(spec, speaker_stats=False),
                           batch_size)
    rows, labels, names = [], [], []
    with tqdm(desc=f"{features.name}, once for every clip", unit=" windows", leave=False) as bar:
        for inputs, label, name in ds:
            rows.append(features.predict_on_batch(inputs["waveform"]))
            labels.append(label.numpy())
            names.append(name.numpy())
            bar.update(len(label))
    out = {"features": np.concatenate(rows), "labels": np.concatenate(labels),
           "names": np.array([n.decode() for n in np.concatenate(names)])}
    out["actors"] = np.array([ravdess.parse(n).actor for n in out["names"]])
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    np.savez(path + ".tmp.npz", key=key, **out)
    os.replace(path + ".tmp.npz", path)  # a killed run never leaves half a cache
    return out


def _weights_digest(model: keras.Model) -> str:
    """A cheap fingerprint of the encoder's weights (the cache is wrong for other weights)."""
    return ",".join(f"{float(np.asarray(w).ravel()[:64].sum()):.6g}" for w in model.weights[:4])


def inputs(cache: dict, actors, speaker_stats: bool) -> tuple[dict, np.ndarray, np.ndarray]:
    """(head inputs, labels, names) of the windows of `actors`; speaker statistics from each
    actor's own windows."""
    rows = np.isin(cache["actors"], list(actors))
    x = {"pooled": cache["features"][rows]}
    if speaker_stats:
        table = {a: speaker_statistics([cache["features"][cache["actors"] == a]],
                                    feature_dims=cache["features"].ndim - 1)
                 for a in np.unique(cache["actors"][rows])}
        x["speaker_stats"] = np.stack([table[a] for a in cache["actors"][rows]])
    return x, cache["labels"][rows], cache["names"][rows]


def predict(head: keras.Model, cache: dict, actors, speaker_stats: bool, batch_size: int = 64) -> dict:
    """`predictions.predict_clips` of the head on the cached windows of `actors`."""
    x, labels, names = inputs(cache, actors, speaker_stats)
    return predictions.predict_clips(head, tf.data.Dataset.from_tensor_slices((x, labels, names)).batch(batch_size))
