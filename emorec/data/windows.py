"""Windows cut from a built dataset's clips, batched: what a model trains and is evaluated on.

A window is W consecutive face crops and the audio under them: the waveform from the first
frame's timestamp, W / fps seconds long. Audio-only datasets have no frames; their windows
are cut on the same 29.97 fps clock. Training takes one random window per clip per epoch;
evaluation takes every window (`stride` frames apart) or the centre one.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from emorec import enrolment
from emorec.data import augmentation, datasets, speakers
from emorec.media.faces import resize_crops
from emorec.media.features import FPS, SAMPLE_RATE, window_frames, window_samples


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
    fps: float = FPS
    # A speaker-normalised model's own features (`emorec.enrolment.KerasEnrolment`):
    # statistics come from the stored waveform through them, never from a stored feature.
    speaker_features: object = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def samples(self) -> int:
        return window_samples(self.frames, self.fps, SAMPLE_RATE)

    @classmethod
    def for_model(cls, model, num_classes: int, fps: float = FPS) -> "WindowSpec":
        shapes = {t.name: t.shape for t in model.inputs}
        faces = shapes.get("faces")
        frames = faces[1] if faces is not None else window_frames(shapes["waveform"][1], fps)
        features = model.speaker_features()
        return cls(
            frames=frames,
            image_size=faces[2] if faces is not None else 112,
            faces=faces is not None,
            audio="waveform" in shapes,
            per_frame=len(model.outputs[0].shape) == 3,
            speaker_stats="speaker_stats" in shapes,
            num_classes=num_classes,
            fps=fps,
            speaker_features=None
            if features is None
            else enrolment.KerasEnrolment(features, len(shapes["speaker_stats"]) - 2),
        )


def _label(example, spec: WindowSpec):
    label = tf.cast(example["label"], tf.int32)
    return label - 1 if spec.num_classes == 7 else label  # 7 classes: neutral (0) is filtered out


def _num_frames(example, spec: WindowSpec):
    if spec.faces:
        return tf.shape(example["faces"])[0]
    seconds = tf.cast(tf.shape(example["waveform"])[0], tf.float32) / SAMPLE_RATE
    return tf.maximum(tf.cast(seconds * spec.fps, tf.int32), 1)


def _crop_side(builder) -> int | None:
    """The side of the crops the dataset stores (None where it stores none)."""
    return builder.info.features["faces"].shape[1] if "faces" in builder.info.features else None


def _window(example, start, spec: WindowSpec, crop_side: int | None, face_side: int | None = None):
    """Inputs of the window that starts at frame `start` (padded where the clip is short),
    faces at `face_side` (default the model's)."""
    face_side = face_side or spec.image_size
    inputs = {}
    if spec.faces:
        # Crops stay JPEG until a window is cut: only its W frames are decoded, not the clip's
        # hundred (benchmarks/input_pipeline.py).
        jpegs = example["faces"]
        index = tf.minimum(tf.range(start, start + spec.frames), tf.shape(jpegs)[0] - 1)
        faces = tf.map_fn(
            lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
            tf.gather(jpegs, index),
            fn_output_signature=tf.TensorSpec((crop_side, crop_side, 3), tf.uint8),
        )
        window = resize_crops(faces, face_side)
        inputs["faces"] = tf.ensure_shape(window, (spec.frames, face_side, face_side, 3))
    if spec.audio:
        waveform = example["waveform"]
        seconds = example["timestamps"][start] if "timestamps" in example else tf.cast(start, tf.float32) / spec.fps
        offset = tf.cast(tf.round(seconds * SAMPLE_RATE), tf.int32)
        piece = waveform[offset : offset + spec.samples]
        piece = tf.pad(piece, [[0, spec.samples - tf.shape(piece)[0]]])
        inputs["waveform"] = tf.ensure_shape(piece, (spec.samples,))
    if spec.speaker_stats:
        inputs["speaker_stats"] = example["speaker_stats"]
    return inputs


def _labels(label, spec: WindowSpec):
    return tf.fill([spec.frames], label) if spec.per_frame else label


def _examples(builder, split: str, spec: WindowSpec):
    # Timestamps place audio windows on the video clock whenever the dataset has them.
    features = builder.info.features
    keep = [
        k
        for k in ("faces", "timestamps", "waveform")
        if k in features and (k != "faces" or spec.faces) and (k != "waveform" or spec.audio)
    ]
    ds = datasets.examples(builder, split, spec.faces, spec.audio, skip_faces=True)
    if spec.num_classes == 7:
        ds = ds.filter(lambda e: e["label"] != 0)
    table = speakers.speaker_table(builder, split, spec.speaker_features) if spec.speaker_stats else None

    def select(e):
        out = {**{k: e[k] for k in keep}, "label": _label(e, spec), "name": e["name"]}
        if table is not None:
            out["speaker_stats"] = tf.gather(table, e["actor"])
        return out

    return ds.map(select, num_parallel_calls=tf.data.AUTOTUNE)


def train_dataset(
    builder,
    split: str,
    spec: WindowSpec,
    batch_size: int,
    augment: bool = True,
    seed: int = 0,
    cache: bool = True,
    steps: int | None = None,
    epochs: int = 1,
    first_epoch: int = 0,
) -> tf.data.Dataset:
    """(inputs, labels) batches of epochs `first_epoch` .. `epochs` - 1, each `steps` batches
    (default: one pass over the split's clips) of a random window of clips in a random order.
    `cache`: the split's examples (crops still JPEG, waveforms) kept in memory after the first
    epoch, about 0.5 MB a clip, instead of read and parsed again every epoch.

    Epoch e's order, windows and augmentation are a function of (seed, e) alone, so a run
    resumed at `first_epoch` sees what an uninterrupted one sees from there on.
    """
    base, crop_side = _examples(builder, split, spec), _crop_side(builder)
    if cache:
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
        if augment:  # at the stored side: augmentation's own crop scales to the model's
            inputs = augmentation.augment(
                _window(example, start, spec, crop_side, crop_side), window_seed[::-1], face_size=spec.image_size
            )
        else:
            inputs = _window(example, start, spec, crop_side)
        return inputs, _labels(example["label"], spec)

    ds = epoch(first_epoch)
    for e in range(first_epoch + 1, epochs + 1):  # one spare epoch: Keras looks one batch past the last
        ds = ds.concatenate(epoch(e))
    ds = ds.map(one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def eval_dataset(
    builder, split: str, spec: WindowSpec, batch_size: int, mode: str = "all", stride: int | None = None
) -> tf.data.Dataset:
    """(inputs, labels, clip names) batches of every window (`stride` frames apart, default
    W / 2) or of the centre window of each clip (`mode='centre'`), in a fixed order."""
    return eval_windows(_examples(builder, split, spec), spec, batch_size, mode, stride, _crop_side(builder))


def eval_windows(
    examples: tf.data.Dataset,
    spec: WindowSpec,
    batch_size: int,
    mode: str = "all",
    stride: int | None = None,
    crop_side: int | None = None,
) -> tf.data.Dataset:
    """`eval_dataset`'s windows of any examples ({'waveform', 'label', 'name'} and for faces
    {'faces' (JPEG), 'timestamps'}): a corpus's clips read straight from their files are cut as
    the built dataset's are."""
    if mode not in ("all", "centre"):
        raise ValueError(f"mode must be 'all' or 'centre', got {mode!r}")
    stride = stride or max(spec.frames // 2, 1)

    def windows(example):
        frames = _num_frames(example, spec)
        last = tf.maximum(frames - spec.frames, 0)
        starts = tf.reshape(last // 2, [1]) if mode == "centre" else tf.range(0, last + 1, stride)
        per_window = tf.data.Dataset.from_tensor_slices(starts)
        return per_window.map(
            lambda s: (_window(example, s, spec, crop_side), _labels(example["label"], spec), example["name"])
        )

    return examples.interleave(windows, cycle_length=1).batch(batch_size).prefetch(tf.data.AUTOTUNE)
