"""`make demo`: the package's main job on an embedded default, with no download.

Makes a small synthetic sample in RAVDESS naming (or reads a real RAVDESS folder given by
--ravdess_dir or $RAVDESS_DIR) and shows what the package sees in it: clips per emotion
and actor, files passed over with the reason, and the actor-independent folds.
"""
from __future__ import annotations

import collections
import os

from absl import app, flags

from emorec import ravdess, synthetic

_OUT = flags.DEFINE_string("out", "demo_out", "Folder for everything the demo writes.")
_RAVDESS_DIR = flags.DEFINE_string(
    "ravdess_dir", os.environ.get("RAVDESS_DIR"),
    "A real RAVDESS folder (Actor_XX/ folders or the Zenodo zips). Default: $RAVDESS_DIR, "
    "else a synthetic sample is made under --out.")
_NUM_FOLDS = flags.DEFINE_integer("num_folds", None,
                                  "Folds of consecutive actors; default: one per 4 actors present.")


def table(rows: list[list[str]], header: list[str]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def describe(scan: ravdess.Scan, num_folds: int | None = None) -> str:
    """What the package sees in a scan: counts per emotion and actor, skips, folds."""
    counts = collections.Counter((s.clip.emotion, s.clip.actor) for s in scan.sources)
    actors = sorted({s.clip.actor for s in scan.sources})
    kinds = collections.Counter(ravdess.MODALITIES[s.clip.modality] for s in scan.sources)
    out = [f"{len(scan.sources)} clips ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}) "
           f"from {len(actors)} actors\n"]
    rows = [[name] + [counts[(code, a)] or "" for a in actors]
            for code, name in enumerate(ravdess.EMOTIONS, start=1)]
    out.append(table(rows, ["emotion \\ actor"] + [f"{a:02d}" for a in actors]))
    if scan.skipped:
        out.append(f"\n{len(scan.skipped)} file(s) passed over:")
        out += [f"  {location}: {reason}" for location, reason in scan.skipped]
    num_folds = num_folds or max(3, len(actors) // 4)
    if len(actors) >= 3:
        folds = ravdess.folds(min(num_folds, len(actors)), actors)
        out.append(f"\nActor-independent folds ({len(folds)}; validation on the next fold):")
        out.append(table([[f.number, f.test, f.validation, f.train] for f in folds],
                         ["fold", "test actors", "validation actors", "training actors"]))
    return "\n".join(out)


def main(argv):
    del argv
    root = _RAVDESS_DIR.value
    if root:
        print(f"Reading RAVDESS from {root}")
    else:
        root = os.path.join(_OUT.value, "sample")
        print(f"Making the synthetic sample (not real data) in {root}")
        synthetic.make_sample(root, progress=True)
    print(describe(ravdess.scan(root), _NUM_FOLDS.value))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
