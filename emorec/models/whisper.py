"""Whisper's audio encoder (Radford et al. 2022) in Keras 3, as a pretrained speech encoder.

waveform float32 [batch, samples] at 16 kHz
  -> Whisper's own log-mel (80 bands, 25 ms / 10 ms, log10, clipped 8 below the maximum,
     scaled as (x + 4) / 4), computed in the graph so that an export takes `waveform`
  -> two convolutions (the second halves time) + sinusoidal positions + L pre-norm
     transformer blocks (`whisper_features`: the encoder, frozen by default)
  -> the mean and standard deviation over time of the input to the blocks and of every
     block's output (the last after the final layer norm): [batch, L + 1, 2 * width]
     (with `speeds`, once for each speed copy of the window: [batch, speeds, L + 1, 2 * width])
  -> optionally standardised per speaker (`speaker_stats`: the mean and std of these
     features over the speaker's recordings, no labels) -> the mean over speed copies
  -> a learned softmax-weighted sum over the L + 1 layers (SUPERB / EmoBox), or every layer
     side by side -> an MLP: the embedding (`whisper_pooling`).

Per layer the statistics are pooled before the layers are weighted: the weighted sum of the
means is the mean of the weighted sum, and pooled features are what a frozen encoder's
cache holds (a few kB per window instead of the whole sequence).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from emorec.errors import UserValueError
from emorec.media.features import FPS, SAMPLE_RATE
from emorec.models import inputs, whisper_checkpoints
from emorec.models.layers import SpeakerNorm, SpeedChange, register, transformer_block
from emorec.models.network import Encoder

N_FFT, HOP, NUM_MELS = 400, 160, 80
FEATURES = "whisper_features"  # the frozen part: cached in training, the speaker features at serving
STACK = "whisper_stack"  # the encoder inside FEATURES when it runs on several speed copies
MAX_POSITIONS = 1500  # 30 s: Whisper's context


def mel_filters(num_mels: int = NUM_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Slaney-scale triangular mel filters with Slaney's area normalisation (librosa's
    default, which Whisper's filters were made with): [n_fft // 2 + 1, num_mels]."""

    def to_mel(hz):
        hz = np.asarray(hz, np.float64)
        return np.where(hz < 1000, hz * 3 / 200, 15 + np.log(np.maximum(hz, 1e-9) / 1000) * 27 / np.log(6.4))

    def to_hz(mel):
        return np.where(mel < 15, mel * 200 / 3, 1000 * np.exp((mel - 15) * np.log(6.4) / 27))

    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sample_rate / 2), num_mels + 2))
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    rising = (bins[None] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    falling = (edges[2:, None] - bins[None]) / np.diff(edges)[1:, None]
    weights = np.maximum(0, np.minimum(rising, falling)) * (2 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.astype(np.float32)


def dft_basis(n_fft: int = N_FFT) -> np.ndarray:
    """[n_fft, 2 * (n_fft // 2 + 1)]: the periodic Hann window times the DFT's cosines and
    minus its sines, so that one matrix product of a frame gives its spectrum's real and
    imaginary parts. An FFT of 400 points is no power of two, which TFLite's RFFT2D refuses;
    the product is the same spectrum (within 2e-5 of tf.signal.stft's log-mel, measured) and
    one computation for Keras, SavedModel and TFLite alike."""
    n, k = np.arange(n_fft), np.arange(n_fft // 2 + 1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    angle = 2 * np.pi * np.outer(n, k) / n_fft
    return np.concatenate([window[:, None] * np.cos(angle), -window[:, None] * np.sin(angle)], 1).astype(np.float32)


def log_mel(waveform):
    """float32 [batch, samples] -> Whisper's log-mel [batch, samples // 160, 80]."""
    import tensorflow as tf

    # Centred frames (reflect-padded by half a window), the last one dropped, as Whisper's STFT.
    padded = tf.pad(waveform, [[0, 0], [N_FFT // 2, N_FFT // 2]], mode="REFLECT")
    spectrum = tf.tensordot(tf.signal.frame(padded, N_FFT, HOP)[:, :-1], tf.constant(dft_basis()), 1)
    bins = N_FFT // 2 + 1
    power = tf.square(spectrum[..., :bins]) + tf.square(spectrum[..., bins:])
    mel = tf.tensordot(power, tf.constant(mel_filters()), 1)
    log = tf.math.log(tf.maximum(mel, 1e-10)) / tf.math.log(10.0)
    log = tf.maximum(log, tf.reduce_max(log, axis=[1, 2], keepdims=True) - 8.0)
    return (log + 4.0) / 4.0


@register
class WhisperLogMel(layers.Layer):
    def call(self, waveform):
        return log_mel(waveform)

    def compute_output_shape(self, shape):
        return (shape[0], None if shape[1] is None else shape[1] // HOP, NUM_MELS)


@register
class SinusoidalPositions(layers.Layer):
    """Adds Whisper's position table (loaded with the weights, never trained) to [batch, T, width]."""

    def __init__(self, max_positions: int = MAX_POSITIONS, **kwargs):
        super().__init__(**kwargs)
        self.max_positions = max_positions

    def build(self, shape):
        self.table = self.add_weight(
            shape=(self.max_positions, shape[-1]), initializer="zeros", trainable=False, name="table"
        )

    def call(self, x):
        return x + self.table[: ops.shape(x)[1]]

    def get_config(self):
        return {**super().get_config(), "max_positions": self.max_positions}


@register
class SpeechPositions(layers.Layer):
    """waveform [batch, samples] -> [batch, T]: 1 where an encoder position (20 ms) holds any
    of the window's audio, 0 where it is only the silence a short clip was padded with."""

    def call(self, waveform):
        positions = -(-(ops.shape(waveform)[1] // HOP) // 2)
        x = waveform[:, : ops.shape(waveform)[1] // HOP * HOP]
        x = ops.pad(x, [[0, 0], [0, positions * 2 * HOP - ops.shape(x)[1]]])
        x = ops.reshape(x, (-1, positions, 2 * HOP))
        return ops.cast(ops.any(ops.not_equal(x, 0.0), axis=-1), "float32")

    def compute_output_shape(self, shape):
        return (shape[0], None if shape[1] is None else -(-(shape[1] // HOP) // 2))


@register
class TimeStatistics(layers.Layer):
    """L + 1 hidden states [batch, T, width] (and optionally `speech` [batch, T], 1 or 0) -> their mean and
    std over the (unmasked) positions [batch, L + 1, 2 * width]."""

    def call(self, states, speech=None):
        x = ops.stack(states, axis=1)
        if speech is None:
            return ops.concatenate([ops.mean(x, axis=2), ops.std(x, axis=2)], axis=-1)
        weights = speech[:, None, :, None]
        count = ops.maximum(ops.sum(weights, axis=2), 1.0)
        mean = ops.sum(x * weights, axis=2) / count
        std = ops.sqrt(ops.sum(weights * ops.square(x - mean[:, :, None]), axis=2) / count)
        return ops.concatenate([mean, std], axis=-1)

    def compute_output_shape(self, states_shape, speech_shape=None):
        return (states_shape[0][0], len(states_shape), 2 * states_shape[0][-1])


@register
class LayerWeightedSum(layers.Layer):
    """[batch, layers, F] -> [batch, F]: a softmax-weighted sum over layers, weights learned."""

    def build(self, shape):
        self.logits = self.add_weight(shape=(shape[1],), initializer="zeros", name="logits")

    def call(self, x):
        return ops.einsum("blf,l->bf", x, ops.softmax(self.logits))

    def compute_output_shape(self, shape):
        return (shape[0], shape[2])


@register
class SpeedAverage(layers.Layer):
    """[batch, speeds, ...] -> [batch, ...]: the mean over a clip's speed copies."""

    def call(self, x):
        return ops.mean(x, axis=1)

    def compute_output_shape(self, shape):
        return (shape[0], *shape[2:])


def whisper_features(
    samples: int | None,
    width: int,
    depth: int,
    heads: int,
    full_context: bool = False,
    skip_padding: bool = False,
    speeds: tuple[float, ...] = (1.0,),
    name: str = FEATURES,
) -> keras.Model:
    """waveform [batch, samples] -> pooled hidden states [batch, depth + 1, 2 * width], or with
    several `speeds` [batch, speeds, depth + 1, 2 * width]: the encoder's statistics of the
    window played at each speed (`SpeedChange`; the encoder itself is the `whisper_stack`
    inside, shared by the copies).

    `full_context`, `skip_padding`: see `_stack`.
    """
    if tuple(speeds) == (1.0,):
        return _stack(samples, width, depth, heads, full_context, skip_padding, name=name)
    if full_context or skip_padding:
        raise UserValueError("speeds change the window's length: they go with neither full_context nor skip_padding")
    stack = _stack(None, width, depth, heads, name=STACK)
    waveform = inputs.waveform_samples(samples)
    copies = [
        stack(waveform if speed == 1.0 else SpeedChange(speed, name=f"speed_{speed:g}")(waveform)) for speed in speeds
    ]
    copies = [layers.Reshape((1, *c.shape[1:]))(c) for c in copies]
    return keras.Model(waveform, layers.Concatenate(axis=1, name="speed_copies")(copies), name=name)


def encoder_stack(features: keras.Model) -> keras.Model:
    """The model that holds the encoder's layers: `features` itself, or its shared `whisper_stack`."""
    return features.get_layer(STACK) if STACK in {layer.name for layer in features.layers} else features


def side_by_side(parts: list[keras.Model], name: str = FEATURES) -> keras.Model:
    """Several encoders' features of the same waveform as one: each copy's pooled layers
    flattened, the encoders' side by side, [batch, (speeds,) sum of layers x 2 * width]."""
    waveform = inputs.waveform_samples(parts[0].input.shape[1])
    lead = tuple(parts[0].output.shape[1:-2])  # the speed copies' axis, if any
    flat = [layers.Reshape((*lead, -1), name=f"{part.name}_flat")(part(waveform)) for part in parts]
    return keras.Model(waveform, layers.Concatenate(axis=-1, name="encoders")(flat), name=name)


def _stack(
    samples: int | None,
    width: int,
    depth: int,
    heads: int,
    full_context: bool = False,
    skip_padding: bool = False,
    name: str = FEATURES,
) -> keras.Model:
    """waveform [batch, samples] -> pooled hidden states [batch, depth + 1, 2 * width].

    `full_context`: the window is padded with silence to Whisper's 30 s, as Whisper always
    saw its input in training, and only the positions over the window are pooled (a short
    unpadded input is one Whisper never saw; the padded one costs ~7x the compute).
    `skip_padding`: the statistics leave out positions that hold only the silence a clip
    shorter than the window was padded with.
    """
    waveform = inputs.waveform_samples(samples)
    x = waveform
    if full_context:
        if samples is None or samples > MAX_POSITIONS * 2 * HOP:
            raise UserValueError(f"full_context needs a fixed window of at most 30 s, got {samples} samples")
        x = layers.ZeroPadding1D((0, MAX_POSITIONS * 2 * HOP - samples))(layers.Reshape((samples, 1))(x))
        x = layers.Reshape((MAX_POSITIONS * 2 * HOP,))(x)
    x = WhisperLogMel(name="whisper_log_mel")(x)
    x = layers.Conv1D(width, 3, padding="same", activation="gelu", name="conv1")(x)
    # Padded by one on both sides as Whisper's conv (Keras' "same" pads stride-2 convs on the right only).
    x = layers.Conv1D(width, 3, strides=2, activation="gelu", name="conv2")(layers.ZeroPadding1D(1)(x))
    x = SinusoidalPositions(name="positions")(x)
    states = [x]
    for i in range(depth):
        x = transformer_block(x, heads, 4 * width, dropout=0.0, name=f"block{i}", epsilon=1e-5)
        states.append(x)
    states[-1] = layers.LayerNormalization(epsilon=1e-5, name="ln_post")(x)
    if full_context:  # the positions over the window: its log-mel frames, halved by conv2
        states = [layers.Cropping1D((0, MAX_POSITIONS - -(-(samples // HOP) // 2)))(s) for s in states]
    speech = SpeechPositions(name="speech_positions")(waveform) if skip_padding else None
    return keras.Model(waveform, TimeStatistics(name="time_statistics")(states, speech=speech), name=name)


def load_encoder_weights(features: keras.Model, tensors: dict[str, np.ndarray]) -> None:
    """Puts Whisper's encoder tensors (OpenAI names, `whisper_checkpoints`) into `features`;
    raises on a missing, left-over or misshapen tensor."""
    tensors = dict(tensors)
    heads = int(tensors.pop("num_heads"))

    def take(name):
        if name not in tensors:
            raise whisper_checkpoints.WeightsError(f"the checkpoint has no {name}")
        return tensors.pop(name)

    def assign(layer, values):
        for variable, value in zip(layer.weights, values, strict=True):
            if tuple(variable.shape) != value.shape:
                raise whisper_checkpoints.WeightsError(
                    f"{variable.path}: the checkpoint's tensor has shape {value.shape}, "
                    f"the model's {tuple(variable.shape)}"
                )
            variable.assign(value)

    def dense(prefix, layer):
        assign(features.get_layer(layer), [take(prefix + ".weight").T, take(prefix + ".bias")])

    def norm(prefix, layer):
        assign(features.get_layer(layer), [take(prefix + ".weight"), take(prefix + ".bias")])

    for conv in ("conv1", "conv2"):
        assign(
            features.get_layer(conv), [take(f"encoder.{conv}.weight").transpose(2, 1, 0), take(f"encoder.{conv}.bias")]
        )
    table = take("encoder.positional_embedding")
    assign(features.get_layer("positions"), [table[:MAX_POSITIONS]])
    depth = sum(1 for layer in features.layers if layer.name.endswith("_attention"))
    for i in range(depth):
        block, name = f"encoder.blocks.{i}.", f"block{i}"
        norm(block + "attn_ln", f"{name}_norm1")
        attention = features.get_layer(f"{name}_attention")
        if attention.num_heads != heads:
            raise whisper_checkpoints.WeightsError(f"the checkpoint has {heads} heads, the model {attention.num_heads}")
        width = attention.key_dim * heads
        values = []
        for part in ("query", "key", "value"):
            values.append(take(f"{block}attn.{part}.weight").T.reshape(width, heads, -1))
            bias = tensors.pop(f"{block}attn.{part}.bias", np.zeros(width, np.float32))
            values.append(bias.reshape(heads, -1))
        values += [take(block + "attn.out.weight").T.reshape(heads, -1, width), take(block + "attn.out.bias")]
        assign(attention, values)
        norm(block + "mlp_ln", f"{name}_norm2")
        dense(block + "mlp.0", f"{name}_mlp1")
        dense(block + "mlp.2", f"{name}_mlp2")
    norm("encoder.ln_post", "ln_post")
    if tensors:
        raise whisper_checkpoints.WeightsError(
            f"the checkpoint has tensors the model has no place for: "
            f"{sorted(tensors)[:5]} (a deeper model than {depth} blocks?)"
        )


@register
class WhisperEncoder(Encoder):
    """Whisper's encoder (`preset`) under trained layers: waveform [batch, frames * 16000 / fps]
    (and, with `normalization='speaker'`, speaker_stats [batch, 2, layers + 1, 2 * width])
    -> embedding [batch, hidden or 2 * width].

    `whisper_weights`: 'pretrained' (the preset's offline package), None (random: tests), or a
    path to a CTranslate2 model or an OpenAI checkpoint (named apart from `weights`, which a
    fusion's video backbone takes). `trainable_layers`: how many of the top
    transformer blocks fine-tune (0: the encoder is frozen, and the trainer caches its
    features). `full_context`, `skip_padding`, `speeds`: see `whisper_features` (several speeds:
    each copy standardised with the speaker's statistics at that speed, then averaged).
    `also`: other frozen Whisper encoders (names of `whisper_checkpoints.PRESETS`) run on the
    same window, their layers' statistics side by side with this one's (`side_by_side`; with
    `layer_pooling='concat'`). `normalization`: 'speaker' or 'utterance' (each window's features
    layer-normalised on their own). `prior_windows`: with 'speaker', the model also takes
    `speaker_windows` and pools the speaker's statistics with this many windows' worth of the
    training speakers' (`SpeakerNorm`), so that it predicts for a speaker it has heard nothing
    else of. `layer_pooling`: 'weighted' (a learned softmax-weighted sum, SUPERB's protocol) or
    'concat' (every layer's statistics side by side).
    """

    modality = "voice"

    def __init__(
        self,
        frames: int = 128,
        fps: float = FPS,
        preset: str = "whisper_base",
        whisper_weights: str | None = "pretrained",
        trainable_layers: int = 0,
        full_context: bool = False,
        skip_padding: bool = False,
        speeds: tuple[float, ...] = (1.0,),
        also: tuple[str, ...] = (),
        normalization: str = "speaker",
        prior_windows: float = 0.0,
        layer_pooling: str = "weighted",
        hidden: int = 256,
        dropout: float = 0.2,
        name: str | None = None,
        **kwargs,
    ):
        for part_name in (preset, *also):
            if part_name not in whisper_checkpoints.PRESETS:
                raise UserValueError(
                    f"unknown Whisper preset {part_name!r}; one of {sorted(whisper_checkpoints.PRESETS)}"
                )
        if normalization not in ("speaker", "utterance"):
            raise UserValueError(f"normalization must be 'speaker' or 'utterance', got {normalization!r}")
        if layer_pooling not in ("weighted", "concat"):
            raise UserValueError(f"layer_pooling must be 'weighted' or 'concat', got {layer_pooling!r}")
        if prior_windows < 0 or (prior_windows and normalization != "speaker"):
            raise UserValueError(
                f"prior_windows must be >= 0, and goes with normalization='speaker', got {prior_windows!r}"
            )
        if also and (layer_pooling != "concat" or trainable_layers or whisper_weights not in ("pretrained", None)):
            raise UserValueError(
                "also= puts frozen encoders with their packaged weights side by side: it needs "
                "layer_pooling='concat', trainable_layers=0 and whisper_weights 'pretrained' or None"
            )
        config = whisper_checkpoints.PRESETS[preset]
        if not 0 <= trainable_layers <= config.layers:
            raise UserValueError(f"trainable_layers must be 0..{config.layers} for {preset}, got {trainable_layers}")
        if trainable_layers and normalization == "speaker":
            raise UserValueError(
                "fine-tuning (trainable_layers > 0) changes the features whose per-speaker statistics "
                "normalization='speaker' takes; fine-tune with normalization='utterance'"
            )
        waveform = inputs.waveform(frames, fps)
        parts = []
        for part_name in (preset, *also):
            config = whisper_checkpoints.PRESETS[part_name]
            part = whisper_features(
                waveform.shape[1],
                config.width,
                config.layers,
                config.heads,
                full_context,
                skip_padding,
                tuple(speeds),
                name=f"{part_name}_features" if also else FEATURES,
            )
            stack = encoder_stack(part)
            if whisper_weights is not None:
                load_encoder_weights(
                    stack, whisper_checkpoints.read(part_name if whisper_weights == "pretrained" else whisper_weights)
                )
            for layer in stack.layers:
                block = layer.name.split("_")[0]
                layer.trainable = (
                    block.startswith("block")
                    and int(block[5:]) >= config.layers - trainable_layers
                    or (layer.name == "ln_post" and trainable_layers > 0)
                )
            parts.append(part)
        features = side_by_side(parts) if also else parts[0]

        shape = features.output.shape[1:]
        pooled = keras.Input(shape, name="pooled")
        if normalization == "speaker":
            stats = [inputs.speaker_stats(shape)] + ([inputs.speaker_windows()] if prior_windows else [])
            norm = SpeakerNorm(prior_windows, name="speaker_norm")
            head_inputs, x = [pooled, *stats], norm([pooled, *stats])
        else:
            norm, head_inputs, x = None, pooled, layers.LayerNormalization(name="feature_norm")(pooled)
        if len(speeds) > 1:
            x = SpeedAverage(name="speed_average")(x)
        x = LayerWeightedSum(name="layer_weights")(x) if layer_pooling == "weighted" else layers.Flatten()(x)
        if hidden:
            x = layers.Dense(hidden, activation="relu", name="hidden")(layers.Dropout(dropout)(x))
        pooling = keras.Model(head_inputs, layers.Dropout(dropout)(x), name="whisper_pooling")

        if normalization == "speaker":
            outer = [inputs.speaker_stats(shape)] + ([inputs.speaker_windows()] if prior_windows else [])
            model_inputs, head_args = [waveform, *outer], [features(waveform), *outer]
        else:
            model_inputs, head_args = waveform, features(waveform)
        super().__init__(model_inputs, pooling(head_args), name=name or f"{preset}_encoder", **kwargs)
        self.features, self.pooling = features, pooling
        self.speaker_norm = norm

    def speaker_features(self) -> keras.Model | None:
        """The encoder's pooled layers of a window (what `speaker_stats` are the statistics of)."""
        return self.features if self.speaker_norm is not None else None

    def frozen_split(self) -> tuple[keras.Model, keras.Model] | None:
        return None if self.features.trainable_weights else (self.features, self.pooling)
