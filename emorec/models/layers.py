"""Layers the models share: input preprocessing inside the graph, audio features, tokens."""

from __future__ import annotations

import fractions
import math

import keras
from keras import layers, ops

from emorec.media import features

register = keras.saving.register_keras_serializable(package="emorec")

# Per-channel statistics the pretrained backbones were trained with.
_STATS = {
    "imagenet_caffe": ((123.68, 116.779, 103.939), (1.0, 1.0, 1.0)),
    "kinetics": ((110.2, 100.64, 96.0), (58.15, 56.47, 55.33)),  # (0.43216,...)*255, (0.22803,...)*255
    "kinetics_mvit": ((114.75,) * 3, (57.375,) * 3),  # torchvision's MViT_V2_S transforms: 0.45*255, 0.225*255
    "imagenet_torchvision": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),  # (0.485,...)*255, (0.229,...)*255
    "symmetric": ((127.5, 127.5, 127.5), (127.5, 127.5, 127.5)),  # to [-1, 1]
}


@register
class FacePreprocess(layers.Layer):
    """uint8 RGB faces [..., H, W, 3] -> float32 normalised as the backbone expects.

    Living in the model, it makes a SavedModel take the uint8 faces a client has.
    `caffe` flips RGB to BGR as Keras' ImageNet ResNet50 weights expect.
    """

    def __init__(self, mode: str = "symmetric", **kwargs):
        super().__init__(**kwargs)
        if mode not in _STATS:
            raise ValueError(f"unknown face preprocessing {mode!r}")
        self.mode = mode

    def call(self, faces):
        x = ops.cast(faces, "float32")
        mean, std = _STATS[self.mode]
        x = (x - ops.convert_to_tensor(mean)) / ops.convert_to_tensor(std)
        return ops.flip(x, axis=-1) if self.mode == "imagenet_caffe" else x

    def compute_output_spec(self, faces):
        return keras.KerasTensor(faces.shape, "float32")

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@register
class LogMel(layers.Layer):
    """waveform [batch, samples] at 16 kHz -> log-mel [batch, mel frames, mels].

    Calls `emorec.media.features.log_mel`, the function the dataset builder uses too.
    """

    def __init__(self, num_mels: int = features.NUM_MELS, **kwargs):
        # Signal processing in float32 under any mixed-precision policy: bfloat16 keeps 8 bits
        # of a sample, and the builder's log-mel is float32.
        super().__init__(**{"dtype": "float32", **kwargs})
        self.num_mels = num_mels

    def call(self, waveform):
        return features.log_mel(waveform, num_mels=self.num_mels)

    def compute_output_shape(self, shape):
        return (shape[0], None if shape[1] is None else features.num_mel_frames(shape[1]), self.num_mels)

    def get_config(self):
        return {**super().get_config(), "num_mels": self.num_mels}


@register
class EveryFrame(layers.Wrapper):
    """Applies `layer` to every frame of [batch, frames, ...] as one batch of batch x frames.
    (Keras' TimeDistributed unrolls a static time axis into a copy of the layer per frame: a
    128-frame window of the FER2013 network took 52 s to trace, against 7 s now.)"""

    def build(self, shape):
        self.layer.build((None, *shape[2:]))
        self.built = True

    def call(self, x, training=None):
        frames = ops.shape(x)[1]
        y = self.layer(ops.reshape(x, (-1, *x.shape[2:])), training=training)
        return ops.reshape(y, (-1, frames, *y.shape[1:]))

    def compute_output_shape(self, shape):
        inner = self.layer.compute_output_shape((None, *shape[2:]))
        return (shape[0], shape[1], *inner[1:])


def every_layer(layer):
    """The layers inside `layer` at any depth: a nested model's, and a wrapper's (EveryFrame's) own."""
    if isinstance(layer, keras.Model):
        inner = layer.layers
    elif isinstance(layer, keras.layers.Wrapper):
        inner = [layer.layer]
    else:
        inner = []
    for sub in inner:
        yield sub
        yield from every_layer(sub)


@register
class UtteranceNorm(layers.Layer):
    """Standardises each example over all but the batch axis: removes recording gain."""

    def call(self, x):
        axes = tuple(range(1, len(x.shape)))
        mean = ops.mean(x, axis=axes, keepdims=True)
        std = ops.std(x, axis=axes, keepdims=True)
        return (x - mean) / (std + 1e-5)


@register
class SpeakerNorm(layers.Layer):
    """Features [batch, ..., *F] and the speaker's statistics [batch, 2, *F] (mean and std of
    each feature over the speaker's recordings, `features.speaker_statistics`) -> the
    features standardised per speaker (log-mel: F = [mels], over every frame).

    With `prior_windows` (tau > 0) a third input, `speaker_windows` [batch], says how many
    windows the statistics come from, and they are pooled with tau windows' worth of the
    training speakers' (`prior`: [2, *F], their mean and within-speaker std, set by the trainer
    and saved with the weights): a speaker not heard yet (0 windows) is standardised with the
    training speakers' statistics, and moves to their own as they speak. The pooled variance
    is the two groups' combined variance (Chan et al.), without E[x^2] - E[x]^2's cancellation.
    """

    def __init__(self, prior_windows: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.prior_windows = float(prior_windows)

    def build(self, shapes):
        if self.prior_windows:
            stats_shape = tuple(shapes[1][1:])
            self.prior = self.add_weight(
                shape=stats_shape,
                trainable=False,
                name="prior",
                initializer=lambda shape, dtype=None: ops.stack([ops.zeros(shape[1:]), ops.ones(shape[1:])]),
            )

    def call(self, inputs):
        x, stats = inputs[0], inputs[1]
        mean, std = stats[:, 0], stats[:, 1]
        if self.prior_windows:
            tau = self.prior_windows
            n = ops.reshape(ops.cast(inputs[2], mean.dtype), (-1,) + (1,) * (len(mean.shape) - 1))
            prior_mean, prior_std = self.prior[0][None], self.prior[1][None]
            variance = (tau * ops.square(prior_std) + n * ops.square(std)) / (tau + n) + tau * n * ops.square(
                mean - prior_mean
            ) / ops.square(tau + n)
            mean, std = (tau * prior_mean + n * mean) / (tau + n), ops.sqrt(variance)
        for _ in range(len(x.shape) - len(mean.shape)):  # over the axes F does not name (frames)
            mean, std = ops.expand_dims(mean, 1), ops.expand_dims(std, 1)
        return (x - mean) / std

    def compute_output_shape(self, shapes):
        return shapes[0]

    def get_config(self):
        return {**super().get_config(), "prior_windows": self.prior_windows}


@register
class SpeedChange(layers.Layer):
    """waveform [batch, samples] -> the same audio played `speed` times as fast, pitch and
    tempo together (Kaldi's speed perturbation): [batch, ceil(samples / speed)].

    Polyphase resampling by up / down = 1 / speed with scipy's `resample_poly` filter (a
    Kaiser-windowed sinc, beta 5, 10 zero crossings either side): the same output as
    `scipy.signal.resample_poly(x, up, down)`. Linear interpolation, tried first, aliases and
    lost what the copies were for (docs/whisper.md).
    """

    def __init__(self, speed: float, **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})  # as LogMel: resampling in float32
        ratio = fractions.Fraction(1 / speed).limit_denominator(100)
        self.speed, self.up, self.down = speed, ratio.numerator, ratio.denominator
        half = 10 * max(self.up, self.down)
        from scipy import signal  # only this layer needs scipy.signal, which is slow to import

        taps = signal.firwin(2 * half + 1, 1.0 / max(self.up, self.down), window=("kaiser", 5.0)) * self.up
        self.half, self.taps = half, taps.astype("float32")

    def call(self, waveform):
        samples = ops.shape(waveform)[1]
        # Zeros between the samples, then the filter at every down-th position only.
        upsampled = ops.reshape(
            ops.pad(waveform[:, :, None], [[0, 0], [0, 0], [0, self.up - 1]]), (-1, samples * self.up)
        )
        padded = ops.pad(upsampled, [[0, 0], [self.half, self.half + self.down]])[:, :, None]
        out = ops.conv(padded, ops.convert_to_tensor(self.taps)[:, None, None], strides=self.down)[:, :, 0]
        return out[:, : -(-samples * self.up // self.down)]

    def compute_output_shape(self, shape):
        return (shape[0], None if shape[1] is None else -(-shape[1] * self.up // self.down))

    def get_config(self):
        return {**super().get_config(), "speed": self.speed}


@register
class SpecAugment(layers.Layer):
    """SpecAugment's masks (Park et al. 2019) on [batch, frames, bands], while training only:
    per example, `time_masks` stretches of up to `time_width` frames and `band_masks` bands
    of up to `band_width` mel bands are set to zero (after normalisation: the mean)."""

    def __init__(self, time_masks: int = 2, time_width: int = 20, band_masks: int = 2, band_width: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.time_masks, self.time_width = time_masks, time_width
        self.band_masks, self.band_width = band_masks, band_width
        self.seed = keras.random.SeedGenerator(0)

    def _keep(self, batch, length, count, max_width):
        keep = ops.ones((batch, length))
        position = ops.arange(length, dtype="float32")[None]
        for _ in range(count):
            width = ops.floor(keras.random.uniform((batch, 1), 0, max_width + 1, seed=self.seed))
            start = ops.floor(keras.random.uniform((batch, 1), seed=self.seed) * (length - width + 1))
            keep = keep * ops.cast((position < start) | (position >= start + width), "float32")
        return keep

    def call(self, x, training=None):
        if not training:
            return x
        batch, frames, bands = ops.shape(x)[0], x.shape[1], x.shape[2]
        keep = (
            self._keep(batch, frames, self.time_masks, min(self.time_width, frames))[:, :, None]
            * self._keep(batch, bands, self.band_masks, min(self.band_width, bands))[:, None, :]
        )
        return x * ops.cast(keep, x.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "time_masks": self.time_masks,
            "time_width": self.time_width,
            "band_masks": self.band_masks,
            "band_width": self.band_width,
        }


@register
class RandomStretch(layers.Layer):
    """Stretches one axis of [batch, frames, bands] by a random factor per example, while
    training only: position i reads position i * factor (linearly interpolated, the last one
    repeated past the end), factor uniform in [1 - max_change, 1 + max_change].

    On the band axis of a log-mel (`axis=-1`) this is vocal tract length
    perturbation (Jaitly & Hinton 2013): the same words from a voice with a shorter or longer
    vocal tract, a new speaker to a network that learns from 12 of them.
    """

    def __init__(self, axis: int = -1, max_change: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if axis not in (1, -1, 2):
            raise ValueError(f"RandomStretch works on axis 1 (frames) or 2 / -1 (bands), got {axis}")
        self.axis, self.max_change = axis, max_change
        self.seed = keras.random.SeedGenerator(0)

    def call(self, x, training=None):
        if not training or self.max_change == 0:
            return x
        axis = len(x.shape) - 1 if self.axis == -1 else self.axis
        length = x.shape[axis]
        factor = keras.random.uniform((ops.shape(x)[0], 1), 1 - self.max_change, 1 + self.max_change, seed=self.seed)
        source = ops.clip(ops.arange(length, dtype="float32")[None] * factor, 0, length - 1)  # [batch, length]
        low = ops.floor(source)
        weight = ops.cast(source - low, x.dtype)  # bfloat16 under mixed precision
        low = ops.cast(low, "int32")
        high = ops.minimum(low + 1, length - 1)
        # Index and weight shaped for the axis: [batch, length, 1] for frames, [batch, 1, length] for bands.
        expand = 2 if axis == 1 else 1
        low, high, weight = (ops.expand_dims(t, expand) for t in (low, high, weight))
        shape = ops.shape(x)
        low, high = ops.broadcast_to(low, shape), ops.broadcast_to(high, shape)
        return ops.take_along_axis(x, low, axis) * (1 - weight) + ops.take_along_axis(x, high, axis) * weight

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "max_change": self.max_change}


@register
class FrameSpectrogram(layers.Layer):
    """log-mel [batch, mel frames, mels] -> [batch, frames, k, mels]: the mel frames under
    each video frame (k = ceil(frame period / hop)), starting where that frame starts."""

    def __init__(self, frames: int, fps: float, hop_ms: float = features.HOP_MS, **kwargs):
        super().__init__(**kwargs)
        self.frames, self.fps, self.hop_ms = frames, fps, hop_ms
        self.k = math.ceil(1000 / fps / hop_ms)

    def call(self, mel):
        starts = [int(i * 1000 / self.fps / self.hop_ms) for i in range(self.frames)]
        index = [[min(s + j, mel.shape[1] - 1) for j in range(self.k)] for s in starts]
        return ops.take(mel, ops.convert_to_tensor(index, "int32"), axis=1)

    def compute_output_shape(self, shape):
        return (shape[0], self.frames, self.k, shape[2])

    def get_config(self):
        return {**super().get_config(), "frames": self.frames, "fps": self.fps, "hop_ms": self.hop_ms}


@register
class PositionEmbedding(layers.Layer):
    """Adds a learned embedding per position of a [batch, length, dim] sequence."""

    def build(self, shape):
        self.embedding = self.add_weight(
            shape=(shape[1], shape[2]), name="embedding", initializer=keras.initializers.TruncatedNormal(stddev=0.02)
        )

    def call(self, x):
        return x + self.embedding


@register
class ClassToken(layers.Layer):
    """Prepends a learned token to a [batch, length, dim] sequence."""

    def build(self, shape):
        self.token = self.add_weight(
            shape=(shape[-1],), name="token", initializer=keras.initializers.TruncatedNormal(stddev=0.02)
        )

    def call(self, x):
        token = ops.broadcast_to(self.token, (ops.shape(x)[0], 1, x.shape[-1]))
        return ops.concatenate([ops.cast(token, x.dtype), x], axis=1)

    def compute_output_shape(self, shape):
        return (shape[0], None if shape[1] is None else shape[1] + 1, shape[2])


@register
class DropPath(layers.Layer):
    """Stochastic depth: drops a residual branch for whole examples while training."""

    def __init__(self, rate: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = keras.random.SeedGenerator(0)

    def call(self, x, training=None):
        if not training or self.rate == 0:
            return x
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        keep = keras.random.uniform(shape, seed=self.seed) >= self.rate
        return x * ops.cast(keep, x.dtype) / (1 - self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


def temporal_taps(x, kernel_t: int, stride_t: int) -> list:
    """[N, T, H, W, C] -> for each temporal kernel offset dt, the frames dt, dt + stride_t, ...
    that a 'valid' 3D convolution combines: kernel_t tensors [N, T_out, H, W, C]."""
    t_out = (x.shape[1] - kernel_t) // stride_t + 1
    return [x[:, dt : dt + (t_out - 1) * stride_t + 1 : stride_t] for dt in range(kernel_t)]


def valid_sizes(sizes, kernel, strides) -> list:
    """Output sizes of a 'valid' convolution along each axis."""
    return [(n - k) // s + 1 for n, k, s in zip(sizes, kernel, strides)]


@register
class FrameConv3D(layers.Layer):
    """A 'valid' Conv3D computed as one 2D convolution over frames stacked on channels.

    The kernel keeps Conv3D's shape [kt, kh, kw, in, out], so counts and weights match
    `layers.Conv3D`. TensorFlow's Conv3D backward pass on CPUs is slow without oneDNN
    (off here, see emorec/__init__.py): the (3, 7, 7) patch embedding of mvitv2_tiny took
    31 s per training step of two clips, and 0.04 s written this way.
    """

    def __init__(self, filters: int, kernel, strides=(1, 1, 1), use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.use_bias = filters, use_bias
        self.kernel_size = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        self.strides = (strides,) * 3 if isinstance(strides, int) else tuple(strides)

    def build(self, shape):
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, shape[-1], self.filters), name="kernel", initializer="glorot_uniform"
        )
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros") if self.use_bias else None

    def call(self, x):
        kt, kh, kw = self.kernel_size
        st, sh, sw = self.strides
        _, _, h, w, c = x.shape
        # The frames of every offset dt side by side: channel index dt * c + channel.
        frames = ops.concatenate(temporal_taps(x, kt, st), axis=-1)
        t_out = frames.shape[1]
        kernel = ops.reshape(ops.transpose(self.kernel, (1, 2, 0, 3, 4)), (kh, kw, kt * c, self.filters))
        y = ops.conv(ops.reshape(frames, (-1, h, w, kt * c)), kernel, strides=(sh, sw), padding="valid")
        if self.bias is not None:
            y = y + self.bias
        return ops.reshape(y, (-1, t_out, *y.shape[1:]))

    def compute_output_shape(self, shape):
        return (shape[0], *valid_sizes(shape[1:4], self.kernel_size, self.strides), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel": self.kernel_size,
            "strides": self.strides,
            "use_bias": self.use_bias,
        }


def batch_norm(name: str, **kwargs) -> layers.BatchNormalization:
    """BatchNormalization with statistics over the global batch: under a distribution
    strategy every replica normalises alike and keeps the same moving statistics, so all
    workers end with the same weights. On one device it is plain batch norm."""
    return layers.BatchNormalization(synchronized=True, name=name, **kwargs)


def transformer_block(
    x, num_heads: int, mlp_dim: int, dropout: float = 0.1, name: str = "block", epsilon: float = 1e-6
):
    """A pre-norm transformer encoder block on [batch, length, dim]."""
    dim = x.shape[-1]
    y = layers.LayerNormalization(epsilon=epsilon, name=f"{name}_norm1")(x)
    y = layers.MultiHeadAttention(num_heads, dim // num_heads, dropout=dropout, name=f"{name}_attention")(y, y)
    x = layers.Add(name=f"{name}_add1")([x, layers.Dropout(dropout)(y)])
    y = layers.LayerNormalization(epsilon=epsilon, name=f"{name}_norm2")(x)
    y = layers.Dense(mlp_dim, activation="gelu", name=f"{name}_mlp1")(y)
    y = layers.Dense(dim, name=f"{name}_mlp2")(layers.Dropout(dropout)(y))
    return layers.Add(name=f"{name}_add2")([x, layers.Dropout(dropout)(y)])


def classifier_head(embedding, num_classes: int, dropout: float = 0.3, name: str = "probabilities"):
    x = layers.Dropout(dropout, name="head_dropout")(embedding)
    return layers.Dense(num_classes, activation="softmax", name=name, dtype="float32")(x)
