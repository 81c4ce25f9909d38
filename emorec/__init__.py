"""emorec: emotion recognition from faces and voice on video (Keras 3 / TensorFlow).

The data flow, by package: `ravdess` (file names, labels, folds) and `media` (decoding,
faces, audio, features) feed the TFDS builder in datasets/ravdess; `data` cuts the built
dataset into model windows; `models` holds the registry; trainers/ trains; `evaluation`
analyses finished runs; `export` and `serving` hand models to TF Serving; `inference` is
`emorec-predict`. `synthetic` makes the demo's and the tests' sample.
"""

import contextlib
import logging
import os
import sys
import threading
import warnings

# What libraries print for their own developers (TensorFlow's C++ start-up lines, TFLite's
# delegate notice, deprecation notices) stays out of every command's output
# (`configure_process`); EMOREC_LIBRARY_LOGS=1 shows it all.
LIBRARY_LOGS = os.environ.get("EMOREC_LIBRARY_LOGS") == "1"
# The project's own code (the package, and in a checkout its trainers, builder and benchmarks),
# whose log lines stay.
_OWN = tuple(
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), d) + os.sep
    for d in ("emorec", "trainers", "datasets", "benchmarks")
)


class _OwnLinesOnly(logging.Filter):
    """Lets through the project's own log records, and anyone's errors."""

    def filter(self, record):
        return record.levelno >= logging.ERROR or record.pathname.startswith(_OWN)


def configure_process(onednn: bool = False) -> None:
    """What the commands set in their own process, before TensorFlow loads (importing emorec sets
    nothing): library log lines out of sight unless EMOREC_LIBRARY_LOGS=1, and oneDNN off unless
    `onednn` (a command that runs forward passes only) or TF_ENABLE_ONEDNN_OPTS says otherwise.

    TF 2.21's oneDNN CPU kernels segfault in the backward pass of 1x1 stride-2 convolutions
    (ResNet-style shortcuts; reproduced here with the FER mini-Xception backbone); export
    TF_ENABLE_ONEDNN_OPTS=1 to take the risk (the voice presets' commands do: no such convolution)."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1" if onednn else "0")
    if LIBRARY_LOGS:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
    for name in ("absl", "tensorflow"):  # TFDS's and TensorFlow's Python log lines
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OwnLinesOnly) for f in logger.filters):
            logger.addFilter(_OwnLinesOnly())


# One redirect of stderr at a time, process-wide: a second thread that copied fd 2 while the
# first had it on /dev/null would restore /dev/null, silencing stderr for good. What a user must
# see waits for the redirect to end (`visible_stderr`): the TFDS builder's threads make face
# detectors while the main thread reports.
_STDERR_REDIRECT = threading.RLock()  # re-entered by a signal handler: no deadlock


@contextlib.contextmanager
def quiet_native_logs():
    """Silences what native code writes to stderr inside the block (TFLite logs "Created
    TensorFlow Lite XNNPACK delegate" with no setting to stop it), unless EMOREC_LIBRARY_LOGS=1."""
    if LIBRARY_LOGS:
        yield
        return
    with _STDERR_REDIRECT:
        sys.stderr.flush()
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


@contextlib.contextmanager
def visible_stderr():
    """stderr where the user sees it inside the block: another thread's `quiet_native_logs`
    ends first (a Ctrl-C line or a traceback is not lost in it)."""
    with _STDERR_REDIRECT:
        yield


def error_chain(error: BaseException | None):
    """`error`, then what caused it or was being handled when it came, and so on: libraries wrap
    the error that matters (TFDS and TensorFlow an OSError, Python a KeyboardInterrupt)."""
    seen = set()
    while error is not None and id(error) not in seen:
        yield error
        seen.add(id(error))
        error = error.__cause__ or error.__context__


def interrupted(error: BaseException | None) -> bool:
    """Ctrl-C, also where Python wraps it in another error: a KeyboardInterrupt in a class's
    `__set_name__` (matplotlib's import runs some) comes out as a RuntimeError caused by it,
    one in a lock's release as "cannot release un-acquired lock" in its context."""
    return any(isinstance(e, KeyboardInterrupt) for e in error_chain(error))


__version__ = "0.1.0"
