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
import hashlib
import os

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from emorec import corpora
from emorec.data import windows
from emorec.evaluation import predictions
from emorec.media import clip_features, video
from emorec.media.features import speaker_statistics


def compute(features: keras.Model, builder, spec: windows.WindowSpec, path: str, batch_size: int = 8) -> dict:
    """{'features' [N, ...], 'labels' [N], 'names' [N], 'actors' [N]} for every evaluation
    window of every clip in the dataset; read from `path` when it was made for the same
    dataset, encoder weights and windows."""
    key = (
        f"{builder.data_dir}|{features.name}|{features.output.shape[1:]}|{spec.frames}|{spec.num_classes}|"
        f"{_weights_digest(features)}"
    )
    if os.path.exists(path):
        with np.load(path) as f:
            if str(f["key"]) == key:
                return {k: f[k] for k in ("features", "labels", "names", "actors")}
    ds = windows.eval_dataset(
        builder, "+".join(builder.info.splits), dataclasses.replace(spec, speaker_stats=False), batch_size
    )
    rows, labels, names = [], [], []
    with tqdm(desc=f"{features.name}, once for every clip", unit=" windows", leave=False) as bar:
        for inputs, label, name in ds:
            rows.append(features.predict_on_batch(inputs["waveform"]))
            labels.append(label.numpy())
            names.append(name.numpy())
            bar.update(len(label))
    out = {
        "features": np.concatenate(rows),
        "labels": np.concatenate(labels),
        "names": np.array([n.decode() for n in np.concatenate(names)]),
    }
    out["actors"] = np.array([corpora.actor_of(n) for n in out["names"]])
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
        table = {
            a: speaker_statistics([cache["features"][cache["actors"] == a]], feature_dims=cache["features"].ndim - 1)
            for a in np.unique(cache["actors"][rows])
        }
        x["speaker_stats"] = np.stack([table[a] for a in cache["actors"][rows]])
    return x, cache["labels"][rows], cache["names"][rows]


def predict(head: keras.Model, cache: dict, actors, speaker_stats: bool, batch_size: int = 64) -> dict:
    """`predictions.predict_clips` of the head on the cached windows of `actors`."""
    x, labels, names = inputs(cache, actors, speaker_stats)
    return predictions.predict_clips(head, tf.data.Dataset.from_tensor_slices((x, labels, names)).batch(batch_size))


class CorpusCache:
    """A frozen encoder's features of every evaluation window of a corpus's clips, read
    straight from their files (decoded and cut as `tfds build` and `eval_dataset` do), kept in
    a folder of parts of `part_clips` clips (under `root`, one folder per encoder and window):
    a killed run resumes at the first part not written, and a cache asked for more clips
    computes only the new ones.

    `load(clips, classes)` -> {'features' [N, ...], 'labels' [N] (the clip's emotion's index in
    `classes`), 'names' [N] (CORPUS/ID), 'speakers' [N] (the clip's speaker key)}; clips that cannot be
    used (undecodable, no or silent audio) are left out and listed in `problems` by name."""

    def __init__(
        self, features: keras.Model, spec: windows.WindowSpec, root: str, part_clips: int = 250, batch_size: int = 8
    ):
        self.features, self.spec = features, spec
        self.part_clips, self.batch_size = part_clips, batch_size
        self.key = f"{features.name}|{features.output.shape[1:]}|{spec.frames}|{_weights_digest(features)}"
        # One folder per encoder and window under `root`: presets of the same encoders share it.
        self.folder = os.path.join(root, hashlib.sha1(self.key.encode()).hexdigest()[:12])
        self.problems: dict[str, str] = {}

    def _parts(self) -> list[str]:
        if not os.path.isdir(self.folder):
            return []
        return sorted(
            os.path.join(self.folder, f)
            for f in os.listdir(self.folder)
            if f.startswith("part_") and f.endswith(".npz")
        )

    def _stored(self) -> dict[str, np.ndarray]:
        """{clip name: its windows' features} of every part made for this encoder and window."""
        stored = {}
        for path in self._parts():
            with np.load(path) as f:
                if str(f["key"]) != self.key:
                    continue
                self.problems.update(zip(f["problem_names"].tolist(), f["problem_reasons"].tolist()))
                stored.update(_by_clip(f["features"], f["names"]))
        return stored

    def load(self, clips, classes) -> dict:
        stored = self._stored()
        todo = [c for c in clips if c.key not in stored and c.key not in self.problems]
        if todo:
            os.makedirs(self.folder, exist_ok=True)
            with tqdm(
                total=len(todo), desc=f"{self.features.name} features of {len(todo)} clips", unit=" clips"
            ) as bar:
                for start in range(0, len(todo), self.part_clips):
                    part = todo[start : start + self.part_clips]
                    stored.update(self._write_part(part, len(self._parts()), bar))
        kept = [c for c in clips if c.key in stored]
        counts = [len(stored[c.key]) for c in kept]
        return {
            "features": np.concatenate([stored[c.key] for c in kept]),
            "names": np.repeat(np.array([c.key for c in kept]), counts),
            "speakers": np.repeat(np.array([c.speaker_key for c in kept]), counts),
            "labels": np.repeat(np.array([classes.index(c.emotion) for c in kept], np.int64), counts),
        }

    def _write_part(self, clips, number: int, bar) -> dict[str, np.ndarray]:
        decoded, problems = [], {}
        for clip, result in clip_features.map_in_threads(lambda c: (c, _waveform(c)), clips):
            if isinstance(result, str):
                bar.update(1)
                problems[clip.key] = result
            else:
                decoded.append((clip, result))
        rows, names = [], []
        if decoded:
            examples = tf.data.Dataset.from_generator(
                lambda: ({"waveform": w, "label": 0, "name": c.key} for c, w in decoded),
                output_signature={
                    "waveform": tf.TensorSpec([None], tf.float32),
                    "label": tf.TensorSpec([], tf.int32),
                    "name": tf.TensorSpec([], tf.string),
                },
            )
            spec = dataclasses.replace(self.spec, faces=False, audio=True, speaker_stats=False)
            for inputs, _, name in windows.eval_windows(examples, spec, self.batch_size):
                rows.append(self.features.predict_on_batch(inputs["waveform"]))
                batch = [n.decode() for n in name.numpy()]
                bar.update(len(set(batch) - set(names)))  # a clip counts once its first window is done
                names += batch
        out = {
            "features": np.concatenate(rows) if rows else np.zeros((0, *self.features.output.shape[1:]), np.float32),
            "names": np.array(names, dtype=str),
            "problem_names": np.array(list(problems), dtype=str),
            "problem_reasons": np.array(list(problems.values()), dtype=str),
        }
        path = os.path.join(self.folder, f"part_{number:05d}.npz")
        np.savez(path + ".tmp.npz", key=self.key, **out)
        os.replace(path + ".tmp.npz", path)  # a killed run never leaves half a part
        self.problems.update(problems)
        return _by_clip(out["features"], out["names"])


def _by_clip(features: np.ndarray, names: np.ndarray) -> dict[str, np.ndarray]:
    """{clip name: the features of its windows}."""
    return {str(name): features[names == name] for name in np.unique(names)}


def _waveform(clip) -> np.ndarray | str:
    """The clip's 16 kHz audio as the builder decodes it, or why it cannot be used."""
    try:
        with video.local_file(clip) as path:
            waveform = video.decode(path, with_video=False, with_audio=True)["waveform"]
    except video.MediaError as e:
        return f"{e.reason}: {e.detail}"
    if waveform.size == 0:
        return "no audio stream"
    left_out = [f"{reason}: {detail}" for reason, detail, kept in clip_features.doubts(waveform) if not kept]
    return left_out[0] if left_out else waveform
