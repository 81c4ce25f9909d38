"""The TFLite interpreter emorec runs .tflite files with: LiteRT's (`ai-edge-litert`, the
interpreter's own package, `pip install 'emorec[lite]'`) where it is installed, TensorFlow's
`tf.lite` otherwise. LiteRT starts in about 0.6 s where importing TensorFlow takes about 10:
with it, a preset and the face detector run without TensorFlow in the process. The two share
one flatbuffer schema and one interpreter API, so the rest of emorec does not ask which it got.
"""

from __future__ import annotations

import importlib.util

from emorec import quiet_native_logs

LITERT_INSTALL = "pip install ai-edge-litert==2.3.0"


def installed() -> bool:
    """Whether LiteRT is importable, found without importing it."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def name() -> str:
    """Which interpreter `interpreter` gives, in words."""
    return "LiteRT" if installed() else "TensorFlow's tf.lite"


def interpreter(path: str | None = None, content: bytes | None = None, threads: int | None = None):
    """An interpreter of the model at `path` or in `content` on `threads` (None: the
    interpreter's own default), its tensors allocated (its delegate's notice out of sight:
    `quiet_native_logs`)."""
    if installed():
        from ai_edge_litert.interpreter import Interpreter
    else:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    made = Interpreter(model_path=path, model_content=content, num_threads=threads)
    with quiet_native_logs():  # before any runner holds the interpreter's tensors
        made.allocate_tensors()
    return made


def schema():
    """The TFLite flatbuffer schema's generated Python classes (to read and write metadata)."""
    if installed():
        from ai_edge_litert import schema_py_generated
    else:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated
