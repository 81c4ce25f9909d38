"""The model registry: `build(name, num_classes=8, frames=16, image_size=112, **options)`.

Inputs are what a client has: `faces` uint8 [batch, frames, S, S, 3] and/or `waveform`
float32 [batch, frames * 16000 / fps] (16 kHz mono); every model takes a dict of those.
The output, `probabilities`, is [batch, num_classes] ([batch, frames, num_classes] for
`per_frame`).

Names: the video encoders (`resnet_lstm`, `resnet_transformer`, `r3d`, `mvitv2`,
`mvitv2_tiny`) and audio encoders (`wave_cnn1d`, `mel_cnn2d`, the pretrained `whisper_base`
and `whisper_tiny_en`) alone, with a classifier
head; any fusion `VIDEO+AUDIO` (e.g. `mvitv2+wave_cnn1d`; `merge=` picks the merge layer);
and the whole models `per_frame`, `av_transformer` and `fer_zero_shot` (FER2013's own
classifier on every frame, untrained here: faces scored zero-shot) and `face_expression`
(a FER2013-trained network on every frame, trainers/faces.py). Options go to the encoders (e.g.
`backbone='small_cnn'`, `weights='imagenet'`), `merge`/`merge_dim` to the merge layer,
`head_dropout` to the classifier.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect

import keras
import numpy as np

from emorec import presets
from emorec.models import audio, backbones, fusion, inputs, mvit, r3d, video, whisper, whisper_checkpoints
from emorec.errors import UserValueError
from emorec.models.av_transformer import av_transformer
from emorec.models.face_expression import face_expression_window
from emorec.models.layers import classifier_head, every_layer
from emorec.models.per_frame import per_frame

VIDEO_ENCODERS = {
    "resnet_lstm": video.resnet_lstm_encoder,
    "resnet_transformer": video.resnet_transformer_encoder,
    "r3d": r3d.r3d_encoder,
    "mvitv2": mvit.mvitv2_encoder,
    "mvitv2_tiny": mvit.mvitv2_tiny_encoder,
}
AUDIO_ENCODERS = {
    "wave_cnn1d": audio.wave_cnn1d_encoder,
    "mel_cnn2d": audio.mel_cnn2d_encoder,
    # Pretrained Whisper encoders, one per preset whose weights install offline.
    **{name: functools.partial(whisper.whisper_encoder, preset=name) for name in whisper_checkpoints.PRESETS},
}
MODELS = {
    "per_frame": per_frame,
    "av_transformer": av_transformer,
    "fer_zero_shot": backbones.fer_zero_shot,
    "face_expression": face_expression_window,
}


def names() -> list[str]:
    """Every name `build` takes, fusions as their pattern `VIDEO+AUDIO`."""
    return [*VIDEO_ENCODERS, *AUDIO_ENCODERS, *MODELS, "VIDEO+AUDIO"]


def _call(function, options: dict, used: set, **given):
    """Calls an encoder with the options it declares (both encoders of a fusion may share one)."""
    accepted = set(inspect.signature(function).parameters) & set(options)
    used.update(accepted)
    return function(**given, **{k: options[k] for k in accepted})


def _encoder(name: str, frames: int, image_size: int, options: dict, used: set) -> keras.Model:
    if name in VIDEO_ENCODERS:
        return _call(VIDEO_ENCODERS[name], options, used, frames=frames, image_size=image_size)
    return _call(AUDIO_ENCODERS[name], options, used, frames=frames)  # check_name let only known names in


def check_name(name: str) -> None:
    """Raises ValueError, saying what `build` takes, for a name it does not take."""
    video_name, plus, audio_name = name.partition("+")
    if (
        name in MODELS
        or name in VIDEO_ENCODERS
        or name in AUDIO_ENCODERS
        or (plus and video_name in VIDEO_ENCODERS and audio_name in AUDIO_ENCODERS)
    ):
        return
    raise UserValueError(
        f"unknown encoder {name!r}; models: {names()}, a fusion being VIDEO+AUDIO with VIDEO in "
        f"{sorted(VIDEO_ENCODERS)} and AUDIO in {sorted(AUDIO_ENCODERS)}"
    )


# What `build` itself gives the functions it calls: not options.
_GIVEN = {"num_classes", "frames", "image_size", "fps", "preset"}


def accepted_options(name: str) -> dict:
    """{option: its default} of every option `build(name)` takes."""
    check_name(name)
    if name in MODELS:
        functions = [MODELS[name]]
    else:
        video_name, _, audio_name = name.rpartition("+")
        functions = [
            f
            for f in (
                VIDEO_ENCODERS.get(video_name),
                AUDIO_ENCODERS.get(audio_name or video_name),
                VIDEO_ENCODERS.get(name),
            )
            if f
        ]
    accepted = {
        p.name: p.default for f in functions for p in inspect.signature(f).parameters.values() if p.name not in _GIVEN
    }
    if name not in MODELS:
        accepted["head_dropout"] = 0.3
    if "+" in name:
        accepted.update(
            {
                "merge": "concat",
                **{
                    f"merge_{p.name}": p.default
                    for p in list(inspect.signature(fusion.merge).parameters.values())[2:]
                    if p.name != "mode"
                },
            }
        )
    return accepted


def _fits(value, default) -> bool:
    """Whether `value` is of the kind the option's default is (None or no default: anything;
    None is every option's "not given", which the function itself judges)."""
    if default is None or default is inspect.Parameter.empty or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list))
    return isinstance(value, type(default))


def check_options(name: str, options: dict) -> None:
    """ValueError, in one line, for an option `build(name)` does not take or of the wrong kind:
    said before anything is built."""
    accepted = accepted_options(name)
    for key, value in options.items():
        if key not in accepted:
            raise UserValueError(f"{name} takes no option {key!r}; its options: {', '.join(sorted(accepted))}")
        if not _fits(value, accepted[key]):
            raise UserValueError(
                f"option {key}={value!r} for {name}: expected a {type(accepted[key]).__name__} "
                f"(its default is {accepted[key]!r})"
            )


def build(name: str, num_classes: int = 8, frames: int = 16, image_size: int = 112, **options) -> keras.Model:
    """Builds the named model (see the module doc); unknown names and options raise."""
    check_options(name, options)
    if name in MODELS:
        return MODELS[name](num_classes=num_classes, frames=frames, image_size=image_size, **options)
    options, used = dict(options), set()
    head_dropout = options.pop("head_dropout", 0.3)
    merge_options = {k[len("merge_") :]: options.pop(k) for k in list(options) if k.startswith("merge_")}
    mode = options.pop("merge", "concat")
    if "+" in name:
        video_name, audio_name = name.split("+", 1)
        encoders = [
            _encoder(video_name, frames, image_size, options, used),
            _encoder(audio_name, frames, image_size, options, used),
        ]
    else:
        encoders = [_encoder(name, frames, image_size, options, used)]
    inputs = {t.name: keras.Input(t.shape[1:], dtype=t.dtype, name=t.name) for e in encoders for t in e.inputs}
    embeddings = [
        encoder([inputs[t.name] for t in encoder.inputs] if len(encoder.inputs) > 1 else inputs[encoder.input.name])
        for encoder in encoders
    ]
    x = fusion.merge(*embeddings, mode=mode, **merge_options) if len(embeddings) == 2 else embeddings[0]
    model_name = name.replace("+", "_")
    return keras.Model(inputs, classifier_head(x, num_classes, head_dropout), name=model_name)


def parse_options(items: list[str]) -> dict:
    """`key=value` strings (the trainer's `--options`) -> `build` options: each value a Python
    literal (`hidden=0`, `speeds=(0.9,1.0,1.1)`), else the string itself (`backbone=small_cnn`).
    ValueError, in one line, for an item that is no key=value or a tuple or list cut at its
    commas (absl's list flags split on them unless the item is quoted)."""
    options = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key.isidentifier():
            raise UserValueError(
                f"--options: {item!r} is not key=value (a tuple or list cut at its commas? quote the "
                "whole item: --options='\"speeds=(0.9,1.0,1.1)\"')"
            )
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            if value[:1] in "([{":
                raise UserValueError(
                    f"--options: {item!r} is cut at a comma: quote the whole item, as in "
                    f"--options='\"{key}={value},...\"'"
                ) from None
            options[key] = value
    return options


def average(members: list[keras.Model], name: str = "average") -> keras.Model:
    """One model whose output is the mean of `members`' outputs (same output shape; inputs of
    the same name are one input, so members may read different ones, faces and voice): an
    ensemble or late fusion that exports and serves as one model."""
    inputs = {}
    for member in members:
        for t in member.inputs:
            if t.name in inputs and tuple(inputs[t.name].shape) != tuple(t.shape):
                raise ValueError(f"{name}: members take {t.name} of shapes {inputs[t.name].shape} and {t.shape}")
            inputs.setdefault(t.name, keras.Input(t.shape[1:], dtype=t.dtype, name=t.name))
    # Renamed wrappers: a functional model needs unique layer names, and the members share theirs.
    outputs = [
        keras.Model(m.input, m.output, name=f"member_{i}")({t.name: inputs[t.name] for t in m.inputs})
        for i, m in enumerate(members)
    ]
    return keras.Model(inputs, keras.layers.Average(name="probabilities")(outputs), name=name)


def from_preset(name: str) -> keras.Model:
    """The preset `name` (`emorec.presets.names()`) as a Keras model: built by the registry as
    its card says, its trained parts loaded (sha256 checked), pretrained parts from their
    packages; a preset of members is their `average`."""
    card = presets.card(name)
    if "members" in card:
        return average([from_preset(member) for member in card["members"]], name=name)
    spec = card["model"]
    model = build(
        spec["name"],
        num_classes=len(card["classes"]),
        frames=spec["frames"],
        image_size=spec.get("image_size", 112),
        **spec.get("options", {}),
    )
    arrays = presets.trained_arrays(name)
    if arrays:
        assign_trained(model, arrays, f"preset {name}")
    return model


def assign_trained(model: keras.Model, arrays: dict, source: str) -> None:
    """Puts {variable path: array} (a preset's trained parts) into `model`; PresetError, naming
    `source`, for an array the model has no place for and for a trainable variable left out."""
    by_path = {v.path: v for v in model.weights}
    for path, value in arrays.items():
        if path not in by_path or tuple(by_path[path].shape) != value.shape:
            raise presets.PresetError(
                f"{source}: its weights hold {path} {value.shape}, which the model built "
                f"from its card has {'not' if path not in by_path else by_path[path].shape}"
            )
        by_path[path].assign(value)
    untrained = sorted({v.path for v in model.trainable_weights} - set(arrays))
    if untrained:
        raise presets.PresetError(f"{source}: its weights leave {untrained[:3]} untrained")


def speaker_features(model: keras.Model) -> keras.Model | None:
    """waveform -> the features whose per-speaker mean and std a speaker-normalised model
    takes as `speaker_stats` (Whisper: the encoder's pooled layers of a window; mel_cnn2d:
    the log-mel frames of a whole recording), None for a model without `speaker_stats`.
    Training and serving compute a speaker's statistics from these, so they agree. In an
    `average` of members, the first member's (their frozen encoders are one and the same)."""
    if "speaker_stats" not in {t.name for t in model.inputs}:
        return None
    for layer in (sub for sub in every_layer(model) if isinstance(sub, keras.Model)):
        names = {sub.name for sub in layer.layers}
        if whisper.FEATURES in names:
            return layer.get_layer(whisper.FEATURES)
        if "log_mel" in names:  # any length: the builder's statistics are over whole clips
            waveform = inputs.waveform_samples(None)
            return keras.Model(waveform, layer.get_layer("log_mel")(waveform), name="log_mel_features")
    raise ValueError(f"{model.name} takes speaker_stats but has no known speaker features")


def frozen_parts(model: keras.Model) -> tuple[keras.Model, keras.Model] | None:
    """(features, head) when `model` is a frozen pretrained encoder with a head: `features`
    maps the waveform to the encoder's pooled layers, `head` maps those (and speaker_stats)
    to the probabilities with the model's own layers (training one trains the other).
    None for any other model, a fusion or a fine-tuned encoder included. An `average` whose
    one frozen encoder is one member's splits there too: the head then holds the whole average,
    the other members (faces) reading their own inputs."""
    members = [layer for layer in model.layers if layer.name.startswith("member_")]
    if members and isinstance(model.get_layer("probabilities"), keras.layers.Average):
        return _average_parts(members)
    encoders = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and any(sub.name == whisper.FEATURES for sub in layer.layers)
    ]
    if len(encoders) != 1 or len(model.inputs) != len(encoders[0].inputs):
        return None
    features, pooling = encoders[0].get_layer(whisper.FEATURES), encoders[0].get_layer("whisper_pooling")
    if features.trainable_weights:
        return None
    # The pooling model's own inputs again (pooled features, then any speaker_stats, speaker_windows),
    # named as the model's.
    names = ["pooled"] + [t.name for t in encoders[0].inputs[1:]]
    inputs = [keras.Input(t.shape[1:], name=n) for t, n in zip(pooling.inputs, names)]
    x = model.get_layer("head_dropout")(pooling(inputs if len(inputs) > 1 else inputs[0]))
    head = keras.Model({t.name: t for t in inputs}, model.get_layer("probabilities")(x), name="head")
    return features, head


@dataclasses.dataclass
class VoiceHead:
    """A frozen-encoder voice model's parts that training sets: `features` (waveform -> the
    encoder's pooled layers, frozen), `speaker_norm` (whose prior is the training speakers'),
    `head` (the linear layer) and `head_model` (pooled features and speaker inputs -> the
    probabilities, through the model's own layers)."""

    model: keras.Model
    features: keras.Model
    head_model: keras.Model
    speaker_norm: keras.layers.Layer
    head: keras.layers.Layer

    @classmethod
    def of(cls, model: keras.Model) -> "VoiceHead | None":
        """The parts of a frozen Whisper model with a speaker prior; None for any other model."""
        parts = frozen_parts(model)
        if parts is None or "speaker_windows" not in {t.name for t in model.inputs}:
            return None
        encoder = next(
            layer
            for layer in model.layers
            if isinstance(layer, keras.Model) and any(sub.name == whisper.FEATURES for sub in layer.layers)
        )
        norm = encoder.get_layer("whisper_pooling").get_layer("speaker_norm")
        return cls(model, parts[0], parts[1], norm, model.get_layer("probabilities"))

    @property
    def copies(self) -> int:
        """The speed copies each window's features hold (1 without `speeds`): the model standardises
        each and averages them before the head."""
        return int(np.prod(self.features.output.shape[1:])) // int(self.head.kernel.shape[0])

    def trained(self) -> dict:
        """What training set, by variable path: the head and the speaker prior (a preset's file)."""
        return {v.path: np.asarray(v.numpy()) for v in [*self.head.weights, *self.speaker_norm.weights]}


def _average_parts(members: list[keras.Model]) -> tuple[keras.Model, keras.Model] | None:
    split = [frozen_parts(member) for member in members]
    frozen = [(member, part) for member, part in zip(members, split) if part]
    if len(frozen) != 1 or any("waveform" in {t.name for t in m.inputs} for m, p in zip(members, split) if not p):
        return None  # no frozen encoder, several (a refit's), or another member that hears the audio too
    features, voice = frozen[0][1]
    pooled = keras.Input(features.output.shape[1:], name="pooled")
    others = {
        t.name: keras.Input(t.shape[1:], dtype=t.dtype, name=t.name)
        for m in members
        for t in m.inputs
        if t.name != "waveform"
    }
    outputs = [
        voice({"pooled": pooled, **{t.name: others[t.name] for t in voice.inputs if t.name != "pooled"}})
        if part
        else member({t.name: others[t.name] for t in member.inputs})
        for member, part in zip(members, split)
    ]
    return features, keras.Model(
        {"pooled": pooled, **others}, keras.layers.Average(name="probabilities")(outputs), name="head"
    )


def freeze(model: keras.Model, names: list[str]) -> list[str]:
    """Fine-tuning's layer-wise freezing: every layer at any depth named one of `names`, or
    starting with one and "_" (`stage1` is `stage1_block1_a_conv`..., not `stage10`), keeps its
    weights; frozen batch norms normalise with their moving statistics. Returns the frozen
    layers' names; ValueError, in one line, for a name that matches no layer."""
    frozen, unmatched = [], set(names)
    for layer in every_layer(model):
        matched = [n for n in names if layer.name == n or layer.name.startswith(n + "_")]
        if matched:
            layer.trainable = False
            frozen.append(layer.name)
            unmatched -= set(matched)
    if unmatched:
        raise UserValueError(
            f"--freeze {sorted(unmatched)}: no layer of {model.name} is so named "
            f"(its top layers: {[layer.name for layer in model.layers][:8]})"
        )
    return frozen
