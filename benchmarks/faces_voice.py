"""The presets on real RAVDESS faces and voice: one actor (05), the only one whose video is here.

    .venv/bin/python -m benchmarks.faces_voice [--voice=ravdess_speech_whisper] [--preset_run=runs/presets/VOICE]

- Faces: the `fer2013_faces` preset (FER2013's mini-Xception and its own classifier on every
  frame, nothing trained on RAVDESS): on the 14 originals through the whole pipeline
  (`tfds build`, the preset's windows, clip = mean of windows), and on the reference
  implementation's crops of all 60 audio-video clips through the model alone (clip = mean of
  frames).
- Voice: a voice preset (`--voice`) with the head its trainer fitted for the fold
  whose test actors include 05 (it never heard actor 05), on the audio-only recordings of the
  same sentences (`03-01-*-05`): each clip as a speaker's first (cold), and enrolled (the
  statistics of all 60 of actor 05's recordings).
- Faces + voice: the mean of the two, the `ravdess_av_whisper_fer2013` preset's rule, fixed
  in advance (no validation faces exist to weigh them).

Scored in RAVDESS's 8 classes, and in FER2013's 7 (calm and neutral as one; FER2013 has no
calm, and the faces alone never say calm). One actor: this shows the presets on real faces,
not an accuracy to compare with papers.
"""

from __future__ import annotations

import pathlib

import numpy as np
from absl import app, flags

from benchmarks.common import ROOT, print_table
from benchmarks import face_crops  # its --workdir: the builds are shared
from benchmarks.face_crops import REAL, build_originals, fer_truth, reference_crops, to_fer
from emorec import enrolment, models, presets, ravdess, serving
from emorec.data import windows
from emorec.evaluation import predictions
from emorec.media import audio
from emorec.media.faces import FacePipeline

FACES = "fer2013_faces"
_VOICE = flags.DEFINE_string("voice", "ravdess_speech_whisper", "The voice preset.")
_PRESET_RUN = flags.DEFINE_string(
    "preset_run",
    None,
    "The voice preset's trainer folder, with its fold heads "
    "(default runs/presets/VOICE: make preset-speech, make preset-speech-corpora).",
)


def voice_probabilities(voice: str, run_dir: str, actor: int = 5) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """({sentence: {'cold', 'enrolled': 8 probabilities}} of the actor's audio-only recordings by
    the voice preset's fold head that never heard the actor, the fold's number)."""
    fold = next(f for f in ravdess.folds(5, range(1, 21)) if actor in f.test)
    model = models.from_preset(voice)
    head = pathlib.Path(run_dir) / f"fold_{fold.number}" / "head.npz"
    if not head.exists():
        raise FileNotFoundError(f"{head}: run make preset-speech first")
    with np.load(head) as f:
        models.load_trained(model, {k: f[k] for k in f.files})
    served = serving.KerasModel(model, presets.card(voice)["classes"])
    paths = sorted((REAL / "Audio_Speech_Actors_01-24" / f"Actor_{actor:02d}").glob("03-01-*.wav"))
    waveforms = {p.stem: audio.load_audio(str(p)) for p in paths}
    enrolled = enrolment.enrol(served, waveforms.values())
    cold = enrolment.SpeakerState(enrolled.shape)
    out = {}
    for name, waveform in waveforms.items():
        batch = enrolment.audio_windows(waveform, served.speaker_window_samples)
        out[_sentence(name)] = {
            label: served.predict(
                {
                    "waveform": batch,
                    **{
                        k: np.repeat(np.asarray(v)[None], len(batch), 0)
                        for k, v in state.inputs(served.signature).items()
                    },
                }
            )["probabilities"].mean(0)
            for label, state in (("cold", cold), ("enrolled", enrolled))
        }
    return out, fold.number


def faces_through_the_pipeline(workdir: pathlib.Path) -> dict[str, np.ndarray]:
    """{clip name: 8 probabilities}: build, the preset's evaluation windows, the faces preset."""
    builder = build_originals(FacePipeline().margin, workdir)
    model = models.from_preset(FACES)
    spec = windows.WindowSpec.for_model(model, 8)
    probabilities, _, names = predictions.predict_clips(model, windows.eval_dataset(builder, "actor_05", spec, 4))[
        "clip"
    ]
    return {predictions.clip_name(n): p for p, n in zip(probabilities, names)}


def faces_of_crops(crops: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{clip name: 8 probabilities}: the faces preset's network on each frame, averaged (its own rule)."""
    faces = models.from_preset(FACES)
    by_size, out = {}, {}
    for name, frames in crops.items():
        size = frames.shape[1]
        if size not in by_size:  # the preset's network at the crops' size, a frame at a time
            by_size[size] = type(faces).from_config({**faces.get_config(), "frames": 1, "image_size": size})
        out[name] = by_size[size].predict({"faces": frames[:, None]}, verbose=0).mean(0)
    return out


def _sentence(name: str) -> str:
    """The clip's fields after modality: the same sentence in its audio-only and video files."""
    return name.split("-", 1)[1]


def main(argv):
    del argv
    voice, fold = voice_probabilities(_VOICE.value, _PRESET_RUN.value or str(ROOT / "runs" / "presets" / _VOICE.value))
    sets = {
        "14 originals: build, windows, model": faces_through_the_pipeline(pathlib.Path(face_crops._WORKDIR.value)),
        "60 clips: the reference's crops, model alone": faces_of_crops(
            {p.stem: reference_crops(p) for p in sorted((REAL / "face_crops_actor_05").glob("*.avi"))}
        ),
    }
    rows = []
    for label, seen in sets.items():
        truth, scores = [], {}
        for name, faces in sorted(seen.items()):
            heard = voice[_sentence(name)]
            truth.append((ravdess.label(ravdess.parse(name).emotion), fer_truth(name)))
            for kind, p in (
                ("faces", faces),
                ("voice, each clip a first", heard["cold"]),
                ("voice, enrolled", heard["enrolled"]),
                ("faces + voice, each clip a first", (faces + heard["cold"]) / 2),
                ("faces + voice, enrolled", (faces + heard["enrolled"]) / 2),
            ):
                scores.setdefault(kind, []).append((np.argmax(p), np.argmax(to_fer(p))))
        truth = np.array(truth)
        for kind, said in scores.items():
            said = np.array(said)
            right = (said == truth).sum(0)
            rows.append(
                [
                    label,
                    kind,
                    f"{right[0]} of {len(truth)}",
                    f"{right[0] / len(truth):.3f}",
                    f"{right[1]} of {len(truth)}",
                ]
            )
    print_table(
        f"`python -m benchmarks.faces_voice`: the presets on ONE actor (05). Faces: {FACES} (nothing trained "
        f"on RAVDESS). Voice: {_VOICE.value} with its fold-{fold} head (actor 05 among that fold's "
        "test actors). Faces + voice: their mean, the rule of the audio-visual presets.",
        ["clips", "preset", "right, 8 classes", "accuracy", "right, 7 (calm = neutral)"],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
