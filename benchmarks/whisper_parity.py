"""The Keras Whisper encoder against references, on real RAVDESS speech.

    .venv/bin/python -m benchmarks.whisper_parity [--presets=whisper_base,whisper_tiny_en] [--clips=4]

Front end: `emorec.models.whisper.log_mel` against Hugging Face's WhisperFeatureExtractor
(numpy; needs `pip install transformers`). Encoder: the Keras encoder's last hidden state
against CTranslate2's own Whisper encoder (`pip install ctranslate2`) on the same log-mel,
from the same weight file, in float32. Errors are relative to each reference's largest
absolute value; the clips are the first --clips of actor 01 (or a synthetic voice).
"""

from __future__ import annotations

import os
import tempfile
import time

from absl import app, flags

import numpy as np

from benchmarks.common import ROOT, print_table
from emorec import synthetic, ravdess
from emorec.media.audio import load_audio
from emorec.models import whisper, whisper_checkpoints

_PRESETS = flags.DEFINE_list("presets", list(whisper_checkpoints.PRESETS), "Presets to check.")
_CLIPS = flags.DEFINE_integer("clips", 4, "Real clips to check.")

ACTOR_01 = ROOT.parent / "shared" / "data" / "ravdess" / "Audio_Speech_Actors_01-24" / "Actor_01"


def clips() -> tuple[list[np.ndarray], str]:
    if ACTOR_01.is_dir():
        paths = sorted(ACTOR_01.glob("*.wav"))[:: max(60 // _CLIPS.value, 1)][: _CLIPS.value]
        return [load_audio(str(p)) for p in paths], f"{len(paths)} real clips of actor 01 ({paths[0].name}, ...)"
    clip = ravdess.Clip(3, 1, 5, 1, 1, 1, 1)
    return [synthetic.render_audio(clip, 3.5)], "a synthetic voice (real RAVDESS not found)"


def reference_log_mel(waveform: np.ndarray) -> np.ndarray | None:
    try:
        from transformers import WhisperFeatureExtractor
    except ImportError:
        return None
    extractor = WhisperFeatureExtractor(feature_size=whisper.NUM_MELS, sampling_rate=16000)
    # Not padded to 30 s, so that the clip's own maximum sets the floor, as in the Keras graph.
    mel = extractor(waveform, sampling_rate=16000, padding=False, return_tensors="np")["input_features"][0]
    return mel.T


def ctranslate2_model(preset: str, workdir: str):
    try:
        import ctranslate2
    except ImportError:
        return None
    import importlib.util
    import shutil

    folder = os.path.join(workdir, preset)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.bin"), "wb") as f:
        f.write(whisper_checkpoints.preset_bytes(preset))
    first = whisper_checkpoints.PRESETS[preset].files[0]
    package_dir = os.path.dirname(
        os.path.join(importlib.util.find_spec(first[0]).submodule_search_locations[0], first[1])
    )
    for extra in ("config.json", "vocabulary.txt", "tokenizer.json"):
        if os.path.exists(os.path.join(package_dir, extra)):
            shutil.copy(os.path.join(package_dir, extra), folder)
    return ctranslate2.models.Whisper(folder, device="cpu", compute_type="float32")


def relative_error(ours, reference) -> float:
    return float(np.max(np.abs(ours - reference)) / np.max(np.abs(reference)))


def main(argv):
    del argv
    import keras
    import tensorflow as tf

    waveforms, origin = clips()
    rows = []
    front = [reference_log_mel(w) for w in waveforms]
    ours_mel = [whisper.log_mel(tf.constant(w[None])).numpy()[0] for w in waveforms]
    if front[0] is not None:
        # The last two frames see the clip's end through Whisper's reflect padding in ours and
        # through zeros in Hugging Face's; every other frame is compared.
        error = max(relative_error(o[:-2], r[: len(o) - 2]) for o, r in zip(ours_mel, front))
        rows.append(["front end (log-mel)", "-", "transformers WhisperFeatureExtractor", f"{error:.2e}", "-"])
    with tempfile.TemporaryDirectory() as workdir:
        for preset in _PRESETS.value:
            config = whisper_checkpoints.PRESETS[preset]
            features = whisper.whisper_features(None, config.width, config.layers, config.heads)
            whisper.load_encoder_weights(features, whisper_checkpoints.read(preset))
            last = keras.Model(features.input, features.get_layer("ln_post").output)
            reference = ctranslate2_model(preset, workdir)
            errors, seconds = [], []
            for w, mel in zip(waveforms, ours_mel):
                start = time.perf_counter()
                ours = last(w[None]).numpy()[0]
                seconds.append(time.perf_counter() - start)
                if reference is not None:
                    import ctranslate2

                    theirs = np.array(
                        reference.encode(
                            ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None])), to_cpu=True
                        )
                    )[0]
                    errors.append(relative_error(ours, theirs))
            rows.append(
                [
                    f"{preset} encoder output",
                    f"{len(waveforms)}",
                    "CTranslate2 4.x encode (float32)" if errors else "(ctranslate2 not installed)",
                    f"{max(errors):.2e}" if errors else "-",
                    f"{1000 * np.median(seconds[1:] or seconds):.0f}",
                ]
            )
    print_table(
        f"python -m benchmarks.whisper_parity ({origin}); max |ours - reference| / max |reference|",
        ["what", "clips", "reference", "max relative error", "Keras ms per clip"],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
