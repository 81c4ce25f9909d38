"""`make demo`: the package's main job on an embedded default, with no download. One line
per stage, one progress bar at a time; what the libraries print goes to OUT/logs/.

1. makes a small synthetic sample in RAVDESS naming (or reads a real RAVDESS folder given
   by --ravdess_dir or $RAVDESS_DIR);
2. says what the package sees in it (clips per emotion and actor, files passed over with
   the reason, the actor-independent folds: OUT/clips.md);
3. builds the TFDS dataset (`av` config) from it;
4. trains a small audio-video fusion model on one fold (trainers/configs/demo.cfg), which
   reports clip-level validation and test accuracy, and exports it for TF Serving (a
   folder without audio-video clips, like the audio-only speech set, gets the `audio`
   config and an audio model instead);
5. runs `emorec-predict` with that export on a clip of a test actor and summarises the
   timeline.

It runs from a source checkout (it builds with datasets/ravdess and trains with trainers/).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import sys
import time

from absl import app, flags

from emorec import configure_process, ravdess, synthetic
from emorec.evaluation.tables import markdown_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_CONFIG = os.path.join(ROOT, "trainers", "configs", "demo.cfg")

_OUT = flags.DEFINE_string("out", "demo_out", "Folder for everything the demo writes.")
_RAVDESS_DIR = flags.DEFINE_string(
    "ravdess_dir",
    os.environ.get("RAVDESS_DIR"),
    "A real RAVDESS folder (Actor_XX/ folders or the Zenodo zips). Default: $RAVDESS_DIR, "
    "else a synthetic sample is made under --out.",
)
_TRAIN = flags.DEFINE_boolean("train", True, "Build the dataset and train (off: only describe the clips).")


def describe(scan: ravdess.Scan, num_folds: int | None = None) -> str:
    """What the package sees in a scan: counts per emotion and actor, skips, folds."""
    counts = collections.Counter((s.clip.emotion, s.clip.actor) for s in scan.sources)
    actors = sorted({s.clip.actor for s in scan.sources})
    kinds = collections.Counter(ravdess.MODALITIES[s.clip.modality] for s in scan.sources)
    out = [
        f"{len(scan.sources)} clips ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}) "
        f"from {len(actors)} actors\n"
    ]
    rows = [[name] + [counts[(code, a)] or "" for a in actors] for code, name in enumerate(ravdess.EMOTIONS, start=1)]
    out.append(markdown_table(rows, ["emotion \\ actor"] + [f"{a:02d}" for a in actors]))
    if scan.skipped:
        out.append(f"\n{len(scan.skipped)} file(s) passed over:")
        out += [f"  {location}: {reason}" for location, reason in scan.skipped]
    num_folds = num_folds or max(3, len(actors) // 4)
    if len(actors) >= 3:
        folds = ravdess.folds(min(num_folds, len(actors)), actors)
        out.append(f"\nActor-independent folds ({len(folds)}; validation on the next fold):")
        out.append(
            markdown_table(
                [[f.number, f.test, f.validation, f.train] for f in folds],
                ["fold", "test actors", "validation actors", "training actors"],
            )
        )
    return "\n".join(out)


@contextlib.contextmanager
def quiet(log_path: str):
    """Sends what libraries print during a stage (absl's INFO lines, TFDS's bars and notices,
    TFLite's delegate notice from C++, Python warnings) to `log_path`, kept, not shown;
    yields a stream on the terminal for the stage's own progress bar."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(2), "w")
    with open(log_path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        os.dup2(log.fileno(), 1)  # and below Python: what C++ libraries print
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


def build_dataset(root: str, data_dir: str, config: str, clips: int, log: str) -> str:
    """Builds ravdess/<config> (reused when this builder version was built from the same
    sample); returns the builder's one-line summary."""
    import tensorflow_datasets as tfds
    from tqdm import tqdm

    sys.path.insert(0, ROOT)  # the builder lives in datasets/ravdess, beside the package
    from datasets.ravdess import ravdess_dataset_builder

    builder = ravdess_dataset_builder.Builder(data_dir=data_dir, config=config)
    summary_file = os.path.join(str(builder.data_path), ravdess_dataset_builder.SUMMARY_FILE)
    if not builder.data_path.exists():
        tfds.disable_progress_bar()  # one bar, over clips, instead of TFDS's three nested ones
        with quiet(log) as terminal, tqdm(total=clips, desc="building", unit="clip", file=terminal) as bar:
            builder.on_clip = bar.update
            builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=root))
    with open(summary_file) as f:
        return (
            ravdess_dataset_builder.format_summary(json.load(f), "RAVDESS")
            .splitlines()[0]
            .removeprefix("RAVDESS build: ")
        )


def train(data_dir: str, out: str, config: str, num_folds: int, log: str) -> str:
    """The trainer as a user runs it, with the demo's flagfile; a bar over its epochs (read
    from the run's history.csv as they finish). Returns its result line."""
    from tqdm import tqdm

    run_dir = os.path.join(out, "run")
    cmd = [
        sys.executable,
        "-m",
        "trainers.train",
        f"--flagfile={DEMO_CONFIG}",
        f"--data_dir={data_dir}",
        f"--model_dir={run_dir}",
        f"--num_folds={num_folds}",
        "--verbose=0",
    ]
    if config == "audio":
        cmd += ["--config=audio", "--model=mel_cnn2d", "--backbone=", "--options=", "--export_name=demo_audio"]
    epochs = int(next(line.split("=")[1] for line in open(DEMO_CONFIG) if line.startswith("--epochs=")))
    history = os.path.join(run_dir, "fold_1", "history.csv")
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        with tqdm(total=epochs, desc="training", unit="epoch") as bar:
            process = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
            while process.poll() is None:
                time.sleep(1)
                done = max(sum(1 for _ in open(history)) - 1, 0) if os.path.exists(history) else 0
                bar.update(min(done, epochs) - bar.n)
    with open(log) as f:
        lines = f.read().splitlines()
    if process.returncode:
        raise RuntimeError(f"training failed: {log} holds what it said; its end:\n" + "\n".join(lines[-15:]))
    return lines[-1]


def predict(out: str, log: str) -> list[str]:
    """emorec-predict, as a user runs it, on an angry clip of test actor 1; its summary lines."""
    from emorec import export

    base = os.path.join(ROOT, "saved_models", "demo")
    model = os.path.join(base, str(export.latest_version(base)))
    clip = os.path.join(out, "sample", "Actor_01", "01-01-05-01-02-01-01.mp4")
    cmd = [
        sys.executable,
        "-m",
        "emorec.inference.cli",
        clip,
        "--model",
        model,
        "--out",
        os.path.join(out, "predictions"),
        "--annotate",
    ]
    with open(log, "a") as f:
        f.write("$ emorec-predict " + " ".join(cmd[3:]) + "\n")
        f.flush()
        result = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=f, text=True)
        f.write(result.stdout)
    if result.returncode:
        raise RuntimeError(f"emorec-predict failed: {log} holds what it said")
    return ["$ emorec-predict " + " ".join(cmd[3:])] + result.stdout.strip().splitlines()


def main(argv):
    del argv
    configure_process()  # before TensorFlow loads: the demo is a command
    start = time.time()
    if not os.path.exists(DEMO_CONFIG):
        raise app.UsageError(
            f"the demo runs from a source checkout (it needs {DEMO_CONFIG}): "
            "git clone the project and run `make demo` there"
        )
    out = os.path.abspath(_OUT.value)
    logs = os.path.join(out, "logs")
    os.makedirs(logs, exist_ok=True)
    root = _RAVDESS_DIR.value
    if root:
        print(f"[1/5] Reading RAVDESS from {root}")
    else:
        root = os.path.join(out, "sample")
        synthetic.make_sample(root, progress=True)
        print(f"[1/5] Sample: synthetic clips (not real data) in {root}")
    scan = ravdess.scan(root)
    described = describe(scan)
    clips_file = os.path.join(out, "clips.md")
    with open(clips_file, "w") as f:
        f.write(described + "\n")
    skipped = f", {len(scan.skipped)} file(s) passed over" if scan.skipped else ""
    print(f"[2/5] Clips: {described.splitlines()[0]}{skipped} (per emotion, actor and fold: {clips_file})")
    if not _TRAIN.value:
        return
    av_actors = {s.clip.actor for s in scan.sources if s.clip.modality == 1}
    config = "av" if len(av_actors) >= 3 else "audio"
    modality = 1 if config == "av" else 3
    actors = {s.clip.actor for s in scan.sources if s.clip.modality == modality}
    if len(actors) < 3:
        raise app.UsageError(f"{root} has clips of {len(actors)} actor(s); folds need at least 3")
    data_dir = os.path.join(out, "tensorflow_datasets")
    built = build_dataset(
        root, data_dir, config, sum(s.clip.modality == modality for s in scan.sources), os.path.join(logs, "build.log")
    )
    print(f"[3/5] Dataset: {built} to ravdess/{config} in {data_dir}")
    print(f"[4/5] Training: {train(data_dir, out, config, max(3, len(actors) // 4), os.path.join(logs, 'train.log'))}")
    predicted = config == "av" and not _RAVDESS_DIR.value
    if predicted:
        print("[5/5] Prediction:\n  " + "\n  ".join(predict(out, os.path.join(logs, "predict.log"))))
    run_dir = os.path.join(out, "run", "fold_1")
    print(
        f"\nDone in {time.time() - start:.0f} s. Metrics: {run_dir}/metrics.json; plots: "
        f"{run_dir}/confusion_test.png, {run_dir}/curves.png; TensorBoard: tensorboard --logdir {run_dir}/logs; "
        f"export: saved_models/demo/ (TF Serving layout, see saved_models/models.config)"
        + (f"; predictions: {out}/predictions/" if predicted else "")
        + f"; what the libraries said: {logs}/"
    )


def run():
    app.run(main)


if __name__ == "__main__":
    run()
