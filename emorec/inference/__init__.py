"""Streaming inference: frames from a file, camera or stream, through a local SavedModel or
TF Serving, into a timeline (`emorec-predict` is the command line)."""

import importlib

# Where each name lives, imported when first asked for (PEP 562): `emorec-predict --help` reads
# `emorec.inference.options` without loading NumPy and OpenCV for the predictor.
_HOMES = {
    "Predictor": "predictor",
    "run_stream": "predictor",
    "Frame": "sources",
    "open_camera": "sources",
    "open_file": "sources",
    "open_input": "sources",
}
__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
