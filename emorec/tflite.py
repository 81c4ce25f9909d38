"""The TFLite client: a .tflite written by `emorec.export.export_tflite`, run by
`emorec.litert`'s interpreter (LiteRT's where installed, TensorFlow's otherwise), with the
outputs of the SavedModel it mirrors and the same request checks (`emorec.checks`). Nothing here
imports TensorFlow where LiteRT is installed: a preset's cached TFLite (`emorec.preset_tflite`)
runs in a process that never starts it.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

from emorec import litert
from emorec.checks import first_line
from emorec.clients import Client
from emorec.errors import UserError
from emorec.signatures import SIGNATURE, SPEAKER_FEATURES, InputSpec

TFLITE_INFO = "emorec"  # the TFLite model's metadata entry that holds what emorec.json holds

# Bytes 4-8 of every TFLite flatbuffer (its schema's file_identifier).
TFLITE_IDENTIFIER = b"TFL3"


class TFLiteModel(Client):
    """A TFLite model written by `emorec.export.export_tflite`, run by `litert.interpreter`, with
    the outputs of the SavedModel it mirrors (class names and face pipeline read from its
    metadata) and the same request checks."""

    def __init__(self, path: str, threads: int | None = None):
        if not os.path.isfile(path):
            raise UserError(f"{path}: no such file")
        with open(path, "rb") as f:
            content = f.read()
        try:
            if content[4:8] != TFLITE_IDENTIFIER:
                raise ValueError(f"{'an empty file' if not content else 'no TFLite identifier'}: {len(content)} bytes")
            self.info = read_tflite_info(content)
            self.interpreter = litert.interpreter(content=content, threads=threads or os.cpu_count())
        except (ValueError, RuntimeError, struct.error, IndexError) as e:  # the last two: a truncated file's tables
            raise UserError(
                f"{path} is not a TFLite model emorec can run ({first_line(e)}): export it again "
                "(emorec-export --tflite)"
            ) from None
        self.path = path
        signatures = self.interpreter.get_signature_list()
        self._runner = self.interpreter.get_signature_runner(SIGNATURE)
        self.signature = {
            name: InputSpec(tuple(None if i == 0 else d for i, d in enumerate(shape)), np.dtype(dtype))
            for name, (shape, dtype) in self.info["inputs"].items()
        }
        self.has_speaker_features = SPEAKER_FEATURES in signatures
        if self.has_speaker_features:
            self._features = self.interpreter.get_signature_runner(SPEAKER_FEATURES)
            self.speaker_window_samples = self.signature["waveform"].shape[1]

    def describe(self) -> str:
        return self.path

    def export_info(self) -> dict:
        """What `checks.read_export_info` reads from a request of zeros, from the metadata alone:
        no forward pass (a Whisper preset's costs half a second)."""
        return {
            "class_names": list(self.info["class_names"]),
            "face_pipeline": self.info.get("face_pipeline") if "faces" in self.signature else None,
        }

    def _predict(self, inputs: dict) -> dict:
        outputs = self._runner(**inputs)
        probabilities = outputs["probabilities"]
        # As TensorFlow returns strings: bytes.
        batch, names = len(probabilities), np.array([n.encode() for n in self.info["class_names"]], object)
        outputs.update(labels=names[np.argmax(probabilities, -1)], class_names=np.tile(names, (batch, 1)))
        if self.info.get("face_pipeline") and "faces" in self.signature:
            outputs["face_pipeline"] = np.array([json.dumps(self.info["face_pipeline"]).encode()] * batch, object)
        return outputs

    def _speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        return self._features(waveform=waveform)["features"]


def read_tflite_info(content: bytes) -> dict:
    """The `emorec` metadata entry of a TFLite model written by `export_tflite`."""
    flat = litert.schema().Model.GetRootAsModel(content, 0)
    for i in range(flat.MetadataLength()):
        if flat.Metadata(i).Name().decode() == TFLITE_INFO:
            return json.loads(flat.Buffers(flat.Metadata(i).Buffer()).DataAsNumpy().tobytes())
    raise ValueError("this TFLite model has no emorec metadata (it was not written by emorec's export_tflite)")
