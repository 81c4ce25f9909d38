"""torch's checkpoint files read without torch: OpenAI's Whisper `.pt`, torchvision's `.pth`.

Both formats `torch.save` writes hold a pickle whose tensors point at raw storages: the zip
archive (`*/data.pkl` and `*/data/<key>`, torch 1.6 on) and the legacy stream (the pickle,
the list of storage keys, then each storage as its element count and bytes; torchvision's
older weights). The pickle is read with a restricted unpickler that knows only the torch
names a state dict uses, so no other code can run.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
import zlib

import numpy as np

_DTYPES = {
    "HalfStorage": np.float16,
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ZIP_MAGIC = b"PK\x03\x04"


def bfloat16(buffer, count: int = -1, offset: int = 0) -> np.ndarray:
    """bfloat16 bytes as float32: each value is the top half of a float32."""
    return (np.frombuffer(buffer, np.uint16, count, offset).astype(np.uint32) << 16).view(np.float32)


class _Storage:
    def __init__(self, dtype, key):
        self.dtype, self.key = dtype, key


class _Tensor:
    """A tensor as the pickle describes it, made an array once its storage's bytes are read."""

    def __init__(self, storage, offset, shape, stride, *_):
        self.storage, self.offset, self.shape, self.stride = storage, offset, tuple(shape), tuple(stride)

    def array(self, data: bytes) -> np.ndarray:
        flat = bfloat16(data) if self.storage.dtype == "bfloat16" else np.frombuffer(data, self.storage.dtype)
        strides = tuple(s * flat.dtype.itemsize for s in self.stride)
        return np.lib.stride_tricks.as_strided(flat[self.offset :], self.shape, strides).copy()


class ForeignPickle(pickle.UnpicklingError):
    """A pickle that names code outside a state dict: refused, never run."""


def _unpickler(stream, path: str, storages: dict):
    """Reads the pickle, recording each storage it names in `storages`."""

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return _Tensor
            if module == "torch" and name in _DTYPES:
                return name
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict  # torchvision's carry `_metadata` as an attribute
            raise ForeignPickle(f"{path}: {module}.{name} is not part of a torch state dict")

        def persistent_load(self, pid):
            if pid[0] != "storage":
                raise pickle.UnpicklingError(f"{path}: unknown persistent id {pid[0]!r}")
            return storages.setdefault(str(pid[2]), _Storage(_DTYPES[pid[1]], str(pid[2])))

    return Unpickler(stream)


def _arrays(value, storage_bytes):
    """`value` with every tensor in it an array."""
    if isinstance(value, _Tensor):
        return value.array(storage_bytes(value.storage))
    if isinstance(value, dict):
        return {k: _arrays(v, storage_bytes) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_arrays(v, storage_bytes) for v in value)
    return value


def load(path: str):
    """What `torch.save` saved at `path`, its tensors numpy arrays. ValueError for a file in
    neither format, or one cut short or damaged (a partial download or copy: fetch it again)."""
    if zipfile.is_zipfile(path):
        try:
            return _load_zip(path)
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise ValueError(f"{path} is damaged ({e})") from None
    with open(path, "rb") as f:
        if f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC:  # a zip archive whose end (its directory) is missing
            raise ValueError(f"{path} is cut short: a zip archive without its end")
        f.seek(0)
        try:
            return _load_legacy(f, path)
        except ForeignPickle:
            raise
        except (EOFError, struct.error, pickle.UnpicklingError) as e:
            raise ValueError(f"{path} is cut short ({e or type(e).__name__})") from None


def _load_zip(path: str):
    with zipfile.ZipFile(path) as archive:
        pickle_name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
        if pickle_name is None:
            raise ValueError(f"{path} is a zip file but not a torch checkpoint (no data.pkl inside)")
        prefix = pickle_name[: -len("data.pkl")]
        saved = _unpickler(io.BytesIO(archive.read(pickle_name)), path, {}).load()
        return _arrays(saved, lambda storage: archive.read(f"{prefix}data/{storage.key}"))


def _load_legacy(f, path: str):
    try:
        magic = pickle.load(f)
    except Exception:  # noqa: BLE001  any bytes that do not start with a pickle
        magic = None
    if magic != _LEGACY_MAGIC:
        raise ValueError(f"{path} is not a torch checkpoint (neither torch's zip archive nor its legacy format)")
    pickle.load(f)  # the format's version
    pickle.load(f)  # the saving machine's byte order and type sizes
    storages = {}
    saved = _unpickler(f, path, storages).load()
    data = {}
    for key in map(str, pickle.load(f)):
        # Each storage: its element count (8 bytes, little-endian), then its bytes.
        dtype = storages[key].dtype
        count = struct.unpack("<q", _read(f, 8))[0]
        data[key] = _read(f, count * (2 if dtype == "bfloat16" else np.dtype(dtype).itemsize))
    return _arrays(saved, lambda storage: data[storage.key])


def _read(f, size: int) -> bytes:
    data = f.read(size)
    if len(data) < size:
        raise EOFError(f"{size} bytes wanted, {len(data)} left")
    return data
