"""Writes files in `torch.save`'s two formats without torch, for the readers' tests: the pickle
names exactly what torch writes (stand-in `torch` modules while it is written)."""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

_STORAGES = {
    np.dtype(np.float16): "HalfStorage",
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.int64): "LongStorage",
}


class Tensor:
    """A tensor to write: `transposed` stores its transpose's storage with swapped strides, as
    torch does for a transposed view."""

    def __init__(self, array, transposed=False):
        self.array, self.transposed = np.asarray(array), transposed


@contextlib.contextmanager
def _stand_in_torch():
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    for name in _STORAGES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only written here, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2, torch._utils = _rebuild_tensor_v2, utils
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def write(path, obj, legacy: bool = False, dtype=None) -> None:
    """`obj` (dicts, lists, numbers and `Tensor`s) as `torch.save` writes it; `dtype` stores
    every floating tensor in that type (OpenAI's Whisper checkpoints are float16)."""
    storages = {}

    class Persistent:
        def __init__(self, key, size, kind):
            self.key, self.size, self.kind = key, size, kind

    def reduce(tensor):
        stored = tensor.array.T if tensor.transposed else tensor.array
        if dtype is not None and stored.dtype.kind == "f":
            stored = stored.astype(dtype)
        key = str(len(storages))
        storages[key] = stored.copy(order="C")  # (ascontiguousarray makes a 0-d array 1-d)
        strides = [s // storages[key].itemsize for s in storages[key].strides]
        return (
            sys.modules["torch._utils"]._rebuild_tensor_v2,
            (
                Persistent(key, stored.size, _STORAGES[storages[key].dtype]),
                0,
                tensor.array.shape,
                tuple(strides[::-1]) if tensor.transposed else tuple(strides),
                False,
                {},
            ),
        )

    with _stand_in_torch() as torch:

        class Pickler(pickle.Pickler):
            reducer_override = staticmethod(lambda obj: reduce(obj) if isinstance(obj, Tensor) else NotImplemented)

            def persistent_id(self, obj):
                if isinstance(obj, Persistent):
                    return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.size)
                return None

        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(obj)
    if not legacy:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", buffer.getvalue())
            for key, array in storages.items():
                archive.writestr(f"archive/data/{key}", array.tobytes())
        return
    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(buffer.getvalue())
        pickle.dump(sorted(storages), f, protocol=2)
        for key in sorted(storages):
            f.write(struct.pack("<q", storages[key].size) + storages[key].tobytes())
