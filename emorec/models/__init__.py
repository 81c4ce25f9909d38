"""The model registry: `build(name, num_classes=8, frames=16, image_size=112, **options)`.

Inputs are what a client has: `faces` uint8 [batch, frames, S, S, 3] and/or `waveform`
float32 [batch, frames * 16000 / fps] (16 kHz mono); every model takes a dict of those.
The output, `probabilities`, is [batch, num_classes] ([batch, frames, num_classes] for
`per_frame`).

Every model is a `Network` (`network.py`: its constructor arguments are its options, `get_config`
round-trips them): an encoder name or a fusion is an `EmotionModel` of `Encoder`s
(`emotion_model.py`), the whole models are classes of their own, and presets (`from_preset`,
`save_to_preset`) are folders of a model's config, its trained parts and a card.

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
import functools

import keras

from emorec.errors import UserValueError
from emorec.models import audio, fusion, mvit, r3d, video, whisper, whisper_checkpoints
from emorec.models.av_transformer import AVTransformer
from emorec.models.backbones import FERZeroShot
from emorec.models.emotion_model import Average, EmotionModel, VoiceHead, load_trained, trained_weights
from emorec.models.face_expression import FaceExpressionWindow
from emorec.models.layers import every_layer
from emorec.models.network import Encoder, Network
from emorec.models.per_frame import PerFrame
from emorec.models.preset_folders import from_preset, save_to_preset

__all__ = [
    "Average",
    "EmotionModel",
    "Encoder",
    "Network",
    "VoiceHead",
    "build",
    "from_preset",
    "load_trained",
    "names",
    "save_to_preset",
    "trained_weights",
]

# Adding an encoder is its class and a line here.
VIDEO_ENCODERS = {
    "resnet_lstm": video.ResNetLSTM,
    "resnet_transformer": video.ResNetTransformer,
    "r3d": r3d.R3D,
    "mvitv2": mvit.MViTv2,
    "mvitv2_tiny": mvit.MViTv2Tiny,
}
AUDIO_ENCODERS = {
    "wave_cnn1d": audio.WaveCNN1D,
    "mel_cnn2d": audio.MelCNN2D,
    # Pretrained Whisper encoders, one per preset whose weights install offline.
    **{name: functools.partial(whisper.WhisperEncoder, preset=name) for name in whisper_checkpoints.PRESETS},
}
MODELS = {
    "per_frame": PerFrame,
    "av_transformer": AVTransformer,
    "fer_zero_shot": FERZeroShot,
    "face_expression": FaceExpressionWindow,
}


def names() -> list[str]:
    """Every name `build` takes, fusions as their pattern `VIDEO+AUDIO`."""
    return [*VIDEO_ENCODERS, *AUDIO_ENCODERS, *MODELS, "VIDEO+AUDIO"]


def _class(factory) -> type[Network]:
    return factory.func if isinstance(factory, functools.partial) else factory


def _defaults(factory) -> dict:
    fixed = factory.keywords if isinstance(factory, functools.partial) else {}
    return {k: v for k, v in _class(factory).defaults().items() if k not in fixed}


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


def _factories(name: str) -> list:
    if name in MODELS:
        return [MODELS[name]]
    video_name, _, audio_name = name.rpartition("+")
    return [f for f in (VIDEO_ENCODERS.get(video_name or name), AUDIO_ENCODERS.get(audio_name)) if f]


def accepted_options(name: str) -> dict:
    """{option: its default} of every option `build(name)` takes: the constructors' arguments of
    its encoders (a fusion's two share an option both take), the merge's as `merge_*` and the
    classifier's `head_dropout`."""
    check_name(name)
    accepted = {k: v for f in _factories(name) for k, v in _defaults(f).items()}
    if name not in MODELS:
        accepted["head_dropout"] = 0.3
    if "+" in name:
        accepted["merge"] = "concat"
        accepted.update({f"merge_{k}": v for k, v in fusion.MERGE_OPTIONS.items()})
    return accepted


def _fits(value, default) -> bool:
    """Whether `value` is of the kind the option's default is (None or no default: anything;
    None is every option's "not given", which the constructor itself judges)."""
    if default is None or value is None:
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


def build(name: str, num_classes: int = 8, frames: int = 16, image_size: int = 112, **options) -> Network:
    """Builds the named model (see the module doc); unknown names and options raise."""
    check_options(name, options)
    if name in MODELS:
        return MODELS[name](num_classes=num_classes, frames=frames, image_size=image_size, **options)
    window = {"faces": dict(frames=frames, image_size=image_size), "voice": dict(frames=frames)}
    encoders = []
    for factory in _factories(name):
        cls = _class(factory)
        own = {k: v for k, v in options.items() if k in _defaults(factory)}
        encoders.append(factory(**window[cls.modality], **own))
    return EmotionModel(
        encoders,
        num_classes=num_classes,
        merge=options.get("merge", "concat"),
        merge_options={k[len("merge_") :]: v for k, v in options.items() if k.startswith("merge_")},
        head_dropout=options.get("head_dropout", 0.3),
        name=name.replace("+", "_"),
    )


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
