"""`make demo`: the package's main job on an embedded default, with no download.

1. makes a small synthetic sample in RAVDESS naming (or reads a real RAVDESS folder given
   by --ravdess_dir or $RAVDESS_DIR) and shows what the package sees in it: clips per
   emotion and actor, files passed over with the reason, and the actor-independent folds;
2. builds the TFDS dataset (`av` config) from it;
3. trains a small audio-video fusion model on one fold (trainers/configs/demo.cfg), which
   reports clip-level validation and test accuracy, and exports it for TF Serving (a
   folder without audio-video clips, like the audio-only speech set, gets the `audio`
   config and an audio model instead);
4. runs `emorec-predict` with that export on a clip of a test actor and summarises the
   timeline.
"""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import time

from absl import app, flags

from emorec import ravdess, synthetic
from emorec.metrics import markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_CONFIG = os.path.join(ROOT, "trainers", "configs", "demo.cfg")

_OUT = flags.DEFINE_string("out", "demo_out", "Folder for everything the demo writes.")
_RAVDESS_DIR = flags.DEFINE_string(
    "ravdess_dir", os.environ.get("RAVDESS_DIR"),
    "A real RAVDESS folder (Actor_XX/ folders or the Zenodo zips). Default: $RAVDESS_DIR, "
    "else a synthetic sample is made under --out.")
_TRAIN = flags.DEFINE_boolean("train", True, "Build the dataset and train (off: only describe the clips).")


def describe(scan: ravdess.Scan, num_folds: int | None = None) -> str:
    """What the package sees in a scan: counts per emotion and actor, skips, folds."""
    counts = collections.Counter((s.clip.emotion, s.clip.actor) for s in scan.sources)
    actors = sorted({s.clip.actor for s in scan.sources})
    kinds = collections.Counter(ravdess.MODALITIES[s.clip.modality] for s in scan.sources)
    out = [f"{len(scan.sources)} clips ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}) "
           f"from {len(actors)} actors\n"]
    rows = [[name] + [counts[(code, a)] or "" for a in actors]
            for code, name in enumerate(ravdess.EMOTIONS, start=1)]
    out.append(markdown_table(rows, ["emotion \\ actor"] + [f"{a:02d}" for a in actors]))
    if scan.skipped:
        out.append(f"\n{len(scan.skipped)} file(s) passed over:")
        out += [f"  {location}: {reason}" for location, reason in scan.skipped]
    num_folds = num_folds or max(3, len(actors) // 4)
    if len(actors) >= 3:
        folds = ravdess.folds(min(num_folds, len(actors)), actors)
        out.append(f"\nActor-independent folds ({len(folds)}; validation on the next fold):")
        out.append(markdown_table([[f.number, f.test, f.validation, f.train] for f in folds],
                         ["fold", "test actors", "validation actors", "training actors"]))
    return "\n".join(out)


def build_dataset(root: str, data_dir: str, config: str) -> None:
    import tensorflow_datasets as tfds

    sys.path.insert(0, ROOT)  # the builder lives in datasets/ravdess, beside the package
    from datasets.ravdess.ravdess_dataset_builder import Builder

    builder = Builder(data_dir=data_dir, config=config)
    if builder.data_path.exists():  # this builder version, from the demo's fixed sample: reused
        print(f"Dataset already built in {builder.data_path}")
        return
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=root))


def train(data_dir: str, out: str, config: str, num_folds: int) -> None:
    """The trainer as a user runs it, with the demo's flagfile."""
    cmd = [sys.executable, "-m", "trainers.train", f"--flagfile={DEMO_CONFIG}", f"--data_dir={data_dir}",
           f"--model_dir={os.path.join(out, 'run')}", f"--num_folds={num_folds}"]
    if config == "audio":
        cmd += ["--config=audio", "--model=mel_cnn2d", "--backbone=", "--options=", "--export_name=demo_audio"]
    print("\n$ " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def predict(out: str) -> None:
    """emorec-predict, as a user runs it, on an angry clip of test actor 1."""
    from emorec import export

    base = os.path.join(ROOT, "saved_models", "demo")
    model = os.path.join(base, str(export.latest_version(base)))
    clip = os.path.join(out, "sample", "Actor_01", "01-01-05-01-02-01-01.mp4")
    cmd = [sys.executable, "-m", "emorec.inference.cli", clip, "--model", model,
           "--out", os.path.join(out, "predictions"), "--annotate"]
    print("\n$ emorec-predict " + " ".join(cmd[3:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main(argv):
    del argv
    start = time.time()
    root = _RAVDESS_DIR.value
    if root:
        print(f"Reading RAVDESS from {root}")
    else:
        root = os.path.join(_OUT.value, "sample")
        print(f"Making the synthetic sample (not real data) in {root}")
        synthetic.make_sample(root, progress=True)
    scan = ravdess.scan(root)
    print(describe(scan))
    if not _TRAIN.value:
        return
    av_actors = {s.clip.actor for s in scan.sources if s.clip.modality == 1}
    config = "av" if len(av_actors) >= 3 else "audio"
    actors = av_actors if config == "av" else {s.clip.actor for s in scan.sources if s.clip.modality == 3}
    if len(actors) < 3:
        raise app.UsageError(f"{root} has clips of {len(actors)} actor(s); folds need at least 3")
    data_dir = os.path.abspath(os.path.join(_OUT.value, "tensorflow_datasets"))
    print(f"\nBuilding the TFDS dataset ravdess/{config} in {data_dir}")
    build_dataset(root, data_dir, config)
    train(data_dir, os.path.abspath(_OUT.value), config, max(3, len(actors) // 4))
    predicted = config == "av" and not _RAVDESS_DIR.value
    if predicted:
        predict(os.path.abspath(_OUT.value))
    run_dir = os.path.join(_OUT.value, "run", "fold_1")
    print(f"\nDone in {time.time() - start:.0f} s. Metrics: {run_dir}/metrics.json; plots: {run_dir}/confusion_test.png, "
          f"{run_dir}/curves.png; TensorBoard: tensorboard --logdir {run_dir}/logs; "
          f"export: saved_models/demo/ (TF Serving layout, see saved_models/models.config)"
          + (f"; predictions: {_OUT.value}/predictions/" if predicted else ""))


def run():
    app.run(main)


if __name__ == "__main__":
    run()
