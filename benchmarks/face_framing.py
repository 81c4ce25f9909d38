"""How much of each face image the face is, by one ruler: the face pipeline's own detector
(BlazeFace) run on FER2013's training faces, on the reference implementation's crops of actor
05, and on the crops the face pipeline makes (its box times `FacePipeline.margin`). A network
learnt on FER2013 reads faces framed as FER2013 frames them; this says whether the pipeline's
crops are framed tighter or looser than that.

    .venv/bin/python -m benchmarks.face_framing [--fer2013=/data/faces/fer2013] [--faces=1500]

Each image is set in the middle of a canvas twice its side (its border repeated), since BlazeFace
misses a face that fills the whole picture. Columns: the box's side over the image's side
(median and quartiles), and how far below the image's centre the box's centre lies, in
image sides.
"""

from __future__ import annotations

import csv
import pathlib
import random

import cv2
import numpy as np
from absl import app, flags

from benchmarks.common import print_table
from benchmarks.face_crops import REAL, reference_crops
from emorec.media.faces import BlazeFaceDetector, FacePipeline, largest, square

_FER2013 = flags.DEFINE_string("fer2013", "/data/faces/fer2013", "FER2013 laid out as ../shared/data/README.md says.")
_FACES = flags.DEFINE_integer("faces", 1500, "FER2013 training faces measured (a seeded sample).", lower_bound=1)


def framing(images, detector) -> tuple[np.ndarray, np.ndarray, int]:
    """(box side / image side, box centre below the image centre / image side, images with no face)."""
    sides, below, missed = [], [], 0
    for image in images:
        side = image.shape[0]
        canvas = cv2.copyMakeBorder(image, *(side // 2,) * 4, cv2.BORDER_REPLICATE)
        box = largest(detector(canvas))
        if box is None:
            missed += 1
            continue
        _, cy, box_side = square(box)
        sides.append(box_side / side)
        below.append((cy - side) / side)
    return np.array(sides), np.array(below), missed


def fer2013_faces(root: pathlib.Path, count: int):
    rows = [r for r in csv.DictReader(open(root / "labels.csv")) if r["source"] == "Training"]
    random.Random(0).shuffle(rows)
    for row in rows[:count]:
        grey = cv2.imread(str(root / row["path"]), cv2.IMREAD_GRAYSCALE)
        yield cv2.cvtColor(cv2.resize(grey, (192, 192), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)


def reference_faces():
    for path in sorted((REAL / "face_crops_actor_05").glob("*.avi")):
        yield from reference_crops(path)[::10]


def main(argv):
    del argv
    detector = BlazeFaceDetector()
    sets = {"the pipeline's crops (by construction)": None}
    fer2013 = pathlib.Path(_FER2013.value)
    if (fer2013 / "labels.csv").is_file():
        sets[f"FER2013 training faces ({_FACES.value}, seeded)"] = fer2013_faces(fer2013, _FACES.value)
    else:
        print(f"FER2013 is not at {fer2013} (--fer2013): its row is left out")
    if (REAL / "face_crops_actor_05").is_dir():
        sets["the reference's crops of actor 05 (every 10th frame)"] = reference_faces()
    rows = []
    for label, images in sets.items():
        if images is None:
            rows.append([label, f"{1 / FacePipeline.margin:.3f}", "", "0.000", "0"])
            continue
        sides, below, missed = framing(images, detector)
        low, median, high = np.percentile(sides, [25, 50, 75])
        rows.append([label, f"{median:.3f}", f"{low:.3f}-{high:.3f}", f"{np.median(below):.3f}", str(missed)])
    print_table(
        "`python -m benchmarks.face_framing`: BlazeFace's box in each kind of face image "
        f"(the pipeline crops {FacePipeline.margin} of the box's side)",
        ["images", "box side / image side, median", "quartiles", "box centre below image centre", "no face found"],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
