import os
import pathlib
import signal
import tempfile

import pytest

import emorec
from emorec import synthetic

# The suite runs the library as the commands do (their log levels, oneDNN off).
emorec.configure_process()
# Presets' TFLite (`emorec.preset_tflite`) is made once per machine for the suite, not per run
# (minutes for a Whisper preset), and kept out of the user's own cache.
os.environ.setdefault("EMOREC_CACHE", os.path.join(tempfile.gettempdir(), "emorec-cache"))
# And presets run in TensorFlow unless a test asks for LiteRT (tests/test_lite.py): a clean
# machine's first Whisper preset on the light path converts it first (about 200 s here).
os.environ.setdefault("EMOREC_RUNTIME", "tf")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def default_sigint() -> None:
    """A child's Ctrl-C as a terminal's: a shell that starts the suite in the background
    (`cmd &`, nohup) leaves SIGINT ignored, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# Real RAVDESS material lives beside the checkout, never inside it.
REAL_RAVDESS = pathlib.Path(os.environ.get("RAVDESS_DIR", ROOT.parent / "shared" / "data" / "ravdess"))


def real_ravdess() -> pathlib.Path:
    if not (REAL_RAVDESS / "Audio_Speech_Actors_01-24").is_dir():
        pytest.skip(f"real RAVDESS not found at {REAL_RAVDESS} (set RAVDESS_DIR to use it)")
    return REAL_RAVDESS


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> pathlib.Path:
    """A tiny synthetic sample shared by the tests: 2 actors, 3 emotions, AV + audio-only."""
    root = tmp_path_factory.mktemp("sample")
    synthetic.make_sample(
        str(root), synthetic.clips(actors=(1, 2), emotions=(1, 5, 8), statements=(1,)), duration=1.0, size=(160, 120)
    )
    return root
