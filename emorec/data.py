"""tf.data from the built RAVDESS dataset: folds as TFDS splits, windows of W frames with the
aligned audio, augmentation, batching; clip-level scores from window scores.

A window is W consecutive face crops and the audio under them: the waveform from the first
frame's timestamp, W / fps seconds long. Audio-only datasets have no frames; their windows
are cut on the same 29.97 fps clock. Training takes one random window per clip per epoch;
evaluation takes every window (`stride` frames apart) or the centre one.
"""
from __future__ import annotations

import collections
import dataclasses
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from emorec import ravdess
from emorec.media.features import SAMPLE_RATE, window_frames, window_samples


@dataclasses.dataclass(frozen=True)
class WindowSpec:
    """What the model takes: W frames of S x S faces and/or their audio, 8 or 7 classes."""

    frames: int = 16
    image_size: int = 112
    faces: bool = True
    audio: bool = True
    per_frame: bool = False  # labels [W] instead of a scalar
    speaker_stats: bool = False  # the speaker's feature statistics beside the audio
    num_classes: int = 8
    fps: float = ravdess.FPS
    # A speaker-normalised model's own features (`emorec.inference.enrol.KerasEnrolment`):
    # statistics come from the stored waveform through them, never from a stored feature.
    speaker_features: object = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def samples(self) -> int:
        return window_samples(self.frames, self.fps, SAMPLE_RATE)

    @classmethod
    def for_model(cls, model, num_classes: int, fps: float = ravdess.FPS) -> "WindowSpec":
        shapes = {t.name: t.shape for t in model.inputs}
        faces = shapes.get("faces")
        frames = faces[1] if faces is not None else window_frames(shapes["waveform"][1], fps)
        from emorec.inference.enrol import KerasEnrolment  # both read this module's windows
        from emorec.models import speaker_features

        features = speaker_features(model)
        return cls(frames=frames, image_size=faces[2] if faces is not None else 112, faces=faces is not None,
                   audio="waveform" in shapes, per_frame=len(model.outputs[0].shape) == 3,
                   speaker_stats="speaker_stats" in shapes, num_classes=num_classes, fps=fps,
                   speaker_features=None if features is None else
                   KerasEnrolment(features, len(shapes["speaker_stats"]) - 2))


def dataset_dir(data_dir: str, config: str) -> str:
    """The newest built version of ravdess/<config> under a TFDS data_dir."""
    root = os.path.join(os.path.expanduser(data_dir), "ravdess", config)
    versions = sorted((d for d in tf.io.gfile.listdir(root) if d.strip("/")[0].isdigit()),
                      key=lambda v: tuple(int(p) for p in v.strip("/").split("."))) if tf.io.gfile.exists(root) else []
    if not versions:
        raise FileNotFoundError(f"no built ravdess/{config} in {data_dir}: build it with "
                                f"`tfds build datasets/ravdess --config={config} --manual_dir=... --data_dir={data_dir}`")
    return os.path.join(root, versions[-1].strip("/"))


def load_builder(data_dir: str, config: str):
    """The built dataset, read without the builder's code."""
    return tfds.builder_from_directory(dataset_dir(data_dir, config))


def actors_of(builder) -> list[int]:
    return sorted(int(name.split("_")[1]) for name in builder.info.splits)


def splits_of(fold: ravdess.Fold) -> dict[str, str]:
    """TFDS split strings of a fold: {'train', 'validation', 'test'}, e.g. 'actor_01+actor_02'."""
    return {part: "+".join(f"actor_{a:02d}" for a in getattr(fold, part)) for part in ("train", "validation", "test")}


def fold_splits(fold: int, num_folds: int = 6, actors=ravdess.ACTORS) -> dict[str, str]:
    """TFDS split strings for fold `fold` (1-based) of `num_folds` over `actors`."""
    folds = ravdess.folds(num_folds, actors)
    if not 1 <= fold <= len(folds):
        raise ValueError(f"fold must be 1..{len(folds)}, got {fold}")
    return splits_of(folds[fold - 1])


def _label(example, spec: WindowSpec):
    label = tf.cast(example["label"], tf.int32)
    return label - 1 if spec.num_classes == 7 else label  # 7 classes: neutral (0) is filtered out


def _num_frames(example, spec: WindowSpec):
    if spec.faces:
        return tf.shape(example["faces"])[0]
    seconds = tf.cast(tf.shape(example["waveform"])[0], tf.float32) / SAMPLE_RATE
    return tf.maximum(tf.cast(seconds * spec.fps, tf.int32), 1)


def resize_faces(faces, size: int):
    """Stored crops [..., S, S, 3] uint8 to a model's input side: training and the predictor
    both resize with this, so a served model sees faces made as its training faces were."""
    if faces.shape[-2] == size:
        return faces
    return tf.cast(tf.image.resize(faces, (size, size)), tf.uint8)


def _window(example, start, spec: WindowSpec):
    """Inputs of the window that starts at frame `start` (padded where the clip is short)."""
    inputs = {}
    if spec.faces:
        faces = example["faces"]
        index = tf.minimum(tf.range(start, start + spec.frames), tf.shape(faces)[0] - 1)
        window = resize_faces(tf.gather(faces, index), spec.image_size)
        inputs["faces"] = tf.ensure_shape(window, (spec.frames, spec.image_size, spec.image_size, 3))
    if spec.audio:
        waveform = example["waveform"]
        seconds = example["timestamps"][start] if "timestamps" in example else tf.cast(start, tf.float32) / spec.fps
        offset = tf.cast(tf.round(seconds * SAMPLE_RATE), tf.int32)
        piece = waveform[offset: offset + spec.samples]
        piece = tf.pad(piece, [[0, spec.samples - tf.shape(piece)[0]]])
        inputs["waveform"] = tf.ensure_shape(piece, (spec.samples,))
    if spec.speaker_stats:
        inputs["speaker_stats"] = example["speaker_stats"]
    return inputs


def _labels(label, spec: WindowSpec):
    return tf.fill([spec.frames], label) if spec.per_frame else label


def augment(inputs: dict, seed) -> dict:
    """Faces: flip, crop, brightness, contrast, saturation (the same for every frame of a
    window). Audio: gain, noise at a random SNR, a masked stretch of time and a masked band
    of frequencies (SpecAugment's masks, applied to the waveform so that raw-waveform and
    log-mel models both get them)."""
    seeds = tf.random.experimental.stateless_split(seed, 8)
    out = dict(inputs)
    if "faces" in inputs:
        faces = tf.cast(inputs["faces"], tf.float32) / 255.0
        size = faces.shape[1]
        faces = tf.cond(tf.random.stateless_uniform([], seeds[0]) < 0.5,
                        lambda: tf.reverse(faces, axis=[2]), lambda: faces)
        crop = tf.cast(size * tf.random.stateless_uniform([], seeds[1], 0.85, 1.0), tf.int32)
        corner = tf.cast(tf.random.stateless_uniform([2], seeds[2]) * tf.cast(size - crop + 1, tf.float32), tf.int32)
        faces = tf.image.resize(faces[:, corner[0]:corner[0] + crop, corner[1]:corner[1] + crop], (size, size))
        faces = faces + tf.random.stateless_uniform([], seeds[3], -0.1, 0.1)
        mean = tf.reduce_mean(faces, axis=[1, 2, 3], keepdims=True)
        faces = (faces - mean) * tf.random.stateless_uniform([], seeds[4], 0.8, 1.2) + mean
        faces = tf.image.adjust_saturation(tf.clip_by_value(faces, 0, 1),
                                           tf.random.stateless_uniform([], seeds[5], 0.8, 1.2))
        out["faces"] = tf.cast(tf.clip_by_value(faces, 0, 1) * 255.0 + 0.5, tf.uint8)
    if "waveform" in inputs:
        x = inputs["waveform"]
        x = x * tf.pow(10.0, tf.random.stateless_uniform([], seeds[6], -6.0, 6.0) / 20)
        audio_seeds = tf.random.experimental.stateless_split(seeds[7], 4)
        rms = tf.sqrt(tf.reduce_mean(tf.square(x)) + 1e-8)
        snr_db = tf.random.stateless_uniform([], audio_seeds[0], 15.0, 40.0)
        x = x + tf.random.stateless_normal(tf.shape(x), audio_seeds[1]) * rms * tf.pow(10.0, -snr_db / 20)
        n = tf.shape(x)[0]
        length = tf.cast(tf.cast(n, tf.float32) * tf.random.stateless_uniform([], audio_seeds[2], 0.0, 0.1), tf.int32)
        start = tf.random.stateless_uniform([], audio_seeds[2][::-1], 0, tf.maximum(n - length, 1), tf.int32)
        keep = tf.logical_or(tf.range(n) < start, tf.range(n) >= start + length)
        x = x * tf.cast(keep, x.dtype)
        out["waveform"] = mask_frequencies(x, audio_seeds[3])
    return out


def mask_frequencies(x, seed, max_fraction: float = 0.15):
    """Zeroes a random band of up to `max_fraction` of the spectrum of a waveform."""
    n = tf.shape(x)[0]
    spectrum = tf.signal.rfft(x)
    bins = tf.shape(spectrum)[0]
    width = tf.cast(tf.cast(bins, tf.float32) * tf.random.stateless_uniform([], seed, 0.0, max_fraction), tf.int32)
    low = tf.random.stateless_uniform([], seed[::-1], 0, tf.maximum(bins - width, 1), tf.int32)
    index = tf.range(bins)
    keep = tf.cast(tf.logical_or(index < low, index >= low + width), spectrum.dtype)
    return tf.signal.irfft(spectrum * keep, fft_length=[n])


def _examples(builder, split: str, spec: WindowSpec):
    features = builder.info.features
    for key, needed in (("faces", spec.faces), ("waveform", spec.audio)):
        if needed and key not in features:
            raise ValueError(f"the model takes {key!r} but ravdess/{builder.info.config_name} has none: "
                             "build a config that has it (`av` has both)")
    # Timestamps place audio windows on the video clock whenever the dataset has them.
    keep = [k for k in ("faces", "timestamps", "waveform") if k in features
            and (k != "faces" or spec.faces) and (k != "waveform" or spec.audio)]
    # Read in file order: training shuffles per epoch itself (train_dataset), evaluation keeps it.
    ds = builder.as_dataset(split=split, shuffle_files=False, read_config=tfds.ReadConfig(try_autocache=False))
    if spec.num_classes == 7:
        ds = ds.filter(lambda e: e["label"] != 0)
    table = speaker_table(builder, split, spec.speaker_features) if spec.speaker_stats else None

    def select(e):
        out = {**{k: e[k] for k in keep}, "label": _label(e, spec), "name": e["name"]}
        if table is not None:
            out["speaker_stats"] = tf.gather(table, e["actor"])
        return out

    return ds.map(select, num_parallel_calls=tf.data.AUTOTUNE)


_SPEAKER_TABLES: dict = {}


def speaker_table(builder, split: str, speaker_features) -> tf.Tensor:
    """[max actor + 1, 2, *F]: each actor's statistics over all of its clips in `split` (all
    emotions; labels are not read), zeros for absent actors. Computed from the waveforms by
    `emorec.inference.enrol.speaker_stats` with the model's own `speaker_features`: the
    function and the features serving's enrolment uses."""
    from emorec.inference import enrol  # enrolment reads this module's windows

    if speaker_features is None:
        raise ValueError("speaker statistics need the model's own features: make the WindowSpec with for_model")
    key = (builder.data_dir, split, speaker_features.features)
    if key not in _SPEAKER_TABLES:
        if "waveform" not in builder.info.features:
            raise ValueError(f"ravdess/{builder.info.config_name} has no waveform: speaker statistics need audio")
        skip = {k: tfds.decode.SkipDecoding() for k in ("faces",) if k in builder.info.features}
        by_actor = collections.defaultdict(list)
        for example in builder.as_dataset(split=split, decoders=skip or None):
            by_actor[int(example["actor"])].append(example["waveform"].numpy())
        stats = {actor: enrol.speaker_stats(speaker_features, waveforms) for actor, waveforms in by_actor.items()}
        table = np.zeros((max(stats) + 1, *next(iter(stats.values())).shape), np.float32)
        for actor, value in stats.items():
            table[actor] = value
        _SPEAKER_TABLES[key] = tf.constant(table)
    return _SPEAKER_TABLES[key]


def train_dataset(builder, split: str, spec: WindowSpec, batch_size: int, augmentation: bool = True,
                  seed: int = 0, cache: bool | None = None, steps: int | None = None, epochs: int = 1,
                  first_epoch: int = 0) -> tf.data.Dataset:
    """(inputs, labels) batches of epochs `first_epoch` .. `epochs` - 1, each `steps` batches
    (default: one pass over the split's clips) of a random window of clips in a random order.

    Epoch e's order, windows and augmentation are a function of (seed, e) alone, so a run
    resumed at `first_epoch` sees what an uninterrupted one sees from there on.
    """
    base = _examples(builder, split, spec)
    if cache if cache is not None else not spec.faces:  # audio fits in memory; faces seldom do
        base = base.cache()
    count = builder.info.splits[split].num_examples
    steps = steps or max(count // batch_size, 1)

    def epoch(e: int):
        # Repeated before the shuffle: with 7 classes some clips are filtered out, and an
        # epoch is `steps` batches all the same. Seeds are Python ints: a tensor seed trips
        # TensorFlow's seed check once a global seed is set.
        # No reshuffling on a second pass: Keras iterates the dataset twice (a look at one
        # batch to build, then training), prefetching ahead by a varying number of epochs,
        # so a reshuffled order would depend on the process's history, not on (seed, e).
        epoch_seed = seed * 1_000_003 + e
        ds = base.repeat().shuffle(min(count, 2048), seed=epoch_seed, reshuffle_each_iteration=False)
        ds = ds.take(steps * batch_size)
        return ds.enumerate().map(lambda i, example: (tf.constant(epoch_seed, tf.int64), i, example))

    def one(epoch_seed, index, example):
        window_seed = tf.stack([epoch_seed, index])  # stateless: per epoch and example
        frames = _num_frames(example, spec)
        start = tf.random.stateless_uniform([], window_seed, 0, tf.maximum(frames - spec.frames, 0) + 1, tf.int32)
        inputs = _window(example, start, spec)
        if augmentation:
            inputs = augment(inputs, window_seed[::-1])
        return inputs, _labels(example["label"], spec)

    ds = epoch(first_epoch)
    for e in range(first_epoch + 1, epochs + 1):  # one spare epoch: Keras looks one batch past the last
        ds = ds.concatenate(epoch(e))
    ds = ds.map(one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(builder, split: str, spec: WindowSpec, batch_size: int, mode: str = "all",
                 stride: int | None = None) -> tf.data.Dataset:
    """(inputs, labels, clip names) batches of every window (`stride` frames apart, default
    W / 2) or of the centre window of each clip (`mode='centre'`), in a fixed order."""
    if mode not in ("all", "centre"):
        raise ValueError(f"mode must be 'all' or 'centre', got {mode!r}")
    stride = stride or max(spec.frames // 2, 1)
    ds = _examples(builder, split, spec)

    def windows(example):
        frames = _num_frames(example, spec)
        last = tf.maximum(frames - spec.frames, 0)
        starts = tf.reshape(last // 2, [1]) if mode == "centre" else tf.range(0, last + 1, stride)
        per_window = tf.data.Dataset.from_tensor_slices(starts)
        return per_window.map(lambda s: (_window(example, s, spec), _labels(example["label"], spec), example["name"]))

    return ds.interleave(windows, cycle_length=1).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def predict_clips(model, ds: tf.data.Dataset):
    """Runs `model` over an `eval_dataset`; returns window-level and clip-level results.

    Returns {'window': (probabilities [N, C], labels [N]), 'clip': (probabilities [M, C],
    labels [M], names [M])}: a clip's probabilities are the mean of its windows' (per-frame
    models: of all its frames'), its label the clip's.
    """
    probabilities, labels, names = [], [], []
    for inputs, label, name in ds:
        p = model.predict_on_batch(inputs)
        if p.ndim == 3:  # per-frame models: one row per frame
            p, label = p.reshape(-1, p.shape[-1]), np.asarray(label).reshape(-1)
            name = np.repeat(np.asarray(name), p.shape[0] // len(name))
        probabilities.append(np.asarray(p))
        labels.append(np.asarray(label))
        names.append(np.asarray(name))
    probabilities, labels, names = np.concatenate(probabilities), np.concatenate(labels), np.concatenate(names)
    by_clip = collections.defaultdict(list)
    for i, name in enumerate(names):
        by_clip[name].append(i)
    clip_names = sorted(by_clip)
    clip_probabilities = np.stack([probabilities[by_clip[n]].mean(0) for n in clip_names])
    clip_labels = np.array([labels[by_clip[n][0]] for n in clip_names])
    return {"window": (probabilities, labels), "clip": (clip_probabilities, clip_labels, np.array(clip_names))}
