"""emorec-predict end to end, start-up included: each command run in a fresh process, as a user runs it.

    .venv/bin/python -m benchmarks.startup [--runs 3]

For `--list-presets`, `--help`, one wav, one mp4 with faces and voice, a folder of 20 wavs, and
a camera-like stream (a video file read through the camera's code path, until its first
prediction): the wall time, the time from the process's start to its first timeline row, and
the process's peak memory (its own, from wait4), medians of --runs runs. Each row beside the
same command on the TensorFlow path (`--runtime tf`: the preset built in Keras), and `fer`'s own
use on the same mp4 (its README's lines in `python -c`: the wheel has no command) in the same run.
The TFLite caches are made (and every command run once, untimed) before timing.

The folder's cost per clip, (folder - one wav) / 19, is set beside the model's own compute per
clip: the median of the `model` seconds its timelines record (`time_split`), from the same runs.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

from absl import app, flags

from benchmarks.common import REAL_CLIP, ROOT, SHARED, hd_clip, print_table

_RUNS = flags.DEFINE_integer("runs", 3, "Timed runs of each command (medians are printed).")
_WORKDIR = flags.DEFINE_string("workdir", str(ROOT / "benchmarks" / "out" / "startup"), "Scratch folder.")

REAL_WAVS = SHARED / "ravdess" / "Audio_Speech_Actors_01-24" / "Actor_01"
FOLDER_CLIPS = 20

# Runs emorec-predict as its console script does, and says (on stderr) when the first timeline row
# came; STREAM set: camera 0 is that video file, read through the camera's code path.
RUNNER = """
import os, sys, time
if os.environ.get("STREAM") or "--help" not in sys.argv and "--list-presets" not in sys.argv:
    import cv2
    from emorec.inference import outputs
    add, opened = outputs.Timeline.add, cv2.VideoCapture
    def first_row(self, rows):
        if rows and not getattr(outputs, "first", None):
            outputs.first = time.time()
            print(f"first row at {outputs.first}", file=sys.stderr, flush=True)
        return add(self, rows)
    outputs.Timeline.add = first_row
    if os.environ.get("STREAM"):
        cv2.VideoCapture = lambda source, *a: opened(os.environ["STREAM"] if source == 0 else source, *a)
from emorec.commands import predict
sys.argv = ["emorec-predict", *sys.argv[1:]]
sys.exit(predict())
"""

# fer's README, as a user types it (with OpenCV's window calls stubbed: headless OpenCV has none; and
# its classes imported from their modules: this wheel's package exports neither).
FER = """
import sys, cv2
cv2.waitKey, cv2.destroyAllWindows = (lambda *_: -1), (lambda: None)
from fer.classes import Video
from fer.fer import FER
frames = Video(sys.argv[1], outdir=sys.argv[2]).analyze(FER(), display=False, save_video=False, save_frames=False,
                                                        annotate_frames=False, zip_images=False, output="pandas")
print(len(frames), "frames", file=sys.stderr)
"""


def run_once(code: str, args: list[str], env: dict) -> dict:
    """Wall seconds, seconds to the first timeline row (None without one), peak memory in MB."""
    start = time.time()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.time() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(args)}: exit status {process.returncode}\n{stderr[-2000:]}")
    first = [float(line.split()[-1]) for line in stderr.splitlines() if line.startswith("first row at ")]
    return {"wall": wall, "first": first[0] - start if first else None, "memory": usage.ru_maxrss / 1024}


def medians(code: str, args: list[str], env: dict, runs: int, label: str) -> dict:
    run_once(code, args, env)  # untimed: caches made, files in the page cache for both paths alike
    results = [run_once(code, args, env) for _ in range(runs)]
    print(f"{label}: wall {[round(r['wall'], 2) for r in results]}", file=sys.stderr, flush=True)
    firsts = [r["first"] for r in results if r["first"] is not None]
    return {
        "wall": statistics.median(r["wall"] for r in results),
        "first": statistics.median(firsts) if firsts else None,
        "memory": statistics.median(r["memory"] for r in results),
    }


def inputs(workdir: pathlib.Path) -> dict:
    """{what: (paths and options, where it came from)}: real RAVDESS where ../shared has it."""
    from emorec import ravdess, synthetic

    folder = workdir / "wavs"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        real = sorted(REAL_WAVS.glob("*.wav"))[:FOLDER_CLIPS] if REAL_WAVS.is_dir() else []
        for i in range(FOLDER_CLIPS):
            if real:
                shutil.copy(real[i], folder / real[i].name)
            else:
                clip = ravdess.Clip(3, 1, 1 + i % 8, 1, 1, 1, 1)
                synthetic.write_wav(
                    str(folder / f"{i:02d}.wav"), synthetic.render_audio(clip, 4.0), synthetic.SAMPLE_RATE
                )
    wav = sorted(folder.glob("*.wav"))[0]
    stream, _ = hd_clip(workdir, loops=2)
    mp4 = REAL_CLIP if REAL_CLIP.exists() else hd_clip(workdir)[0]
    origin = "real RAVDESS" if REAL_WAVS.is_dir() and REAL_CLIP.exists() else "synthetic (real RAVDESS not found)"
    return (
        {
            "--list-presets": ["--list-presets"],
            "--help": ["--help"],
            "one wav (4 s)": [str(wav)],
            "one mp4 with faces and voice (4 s, 720p)": [str(mp4)],
            f"a folder of {FOLDER_CLIPS} wavs": [str(folder)],
            "camera-like stream, to its first prediction": ["0", "--max_frames", "150"],
        },
        stream,
        mp4,
        origin,
    )


def model_seconds(out: pathlib.Path) -> float:
    """The median over the timelines in `out` of the seconds the model itself took."""
    return statistics.median(json.loads(p.read_text())["time_split"]["model"] for p in out.glob("*.timeline.json"))


def main(argv):
    del argv
    workdir = pathlib.Path(_WORKDIR.value)
    commands, stream, mp4, origin = inputs(workdir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    rows, figures = [], {}
    for label, args in commands.items():
        timed = {}
        for runtime in ("lite", "tf"):
            out = pathlib.Path(tempfile.mkdtemp(dir=workdir))
            given = args if args[0].startswith("--") else [*args, "--runtime", runtime, "--out", str(out)]
            timed[runtime] = medians(
                RUNNER,
                given,
                {**env, "STREAM": str(stream)} if args[0] == "0" else env,
                _RUNS.value,
                f"{label}, {runtime}",
            )
            if label.startswith("a folder"):
                figures[f"model {runtime}"] = model_seconds(out)
            if args[0].startswith("--"):  # no model, no runtime: one command
                timed = {"either": timed["lite"]}
                break
        figures[label] = timed
        rows += [[label, path, *cells(timed[path])] for path in timed]
    anchor = f"fer {version('fer')}: its README's lines in `python -c`"
    try:
        rows.append(
            [
                "one mp4 with faces (4 s, 720p)",
                anchor,
                *cells(medians(FER, [str(mp4), str(workdir / "fer")], env, _RUNS.value, "fer")),
            ]
        )
    except RuntimeError as error:  # said in the table, not left out
        rows.append(
            [
                "one mp4 with faces (4 s, 720p)",
                f"{anchor}: does not run here ({error.args[0].splitlines()[-1]})",
                "-",
                "-",
                "-",
            ]
        )
    from emorec import litert

    print_table(
        f"`python -m benchmarks.startup --runs {_RUNS.value}`: emorec-predict in a fresh process, medians of "
        f"{_RUNS.value} runs; inputs {origin}; the default preset; lite: {litert.name()} "
        f"(ai-edge-litert {version('ai-edge-litert') if litert.installed() else '-'}), tf: TensorFlow "
        f"{version('tensorflow-cpu')}; {os.cpu_count()} cores (shared), {platform.machine()}",
        ["command", "path", "wall s", "first row s", "peak MB"],
        rows,
    )
    folder = f"a folder of {FOLDER_CLIPS} wavs"
    for runtime in ("lite", "tf"):
        per_clip = (figures[folder][runtime]["wall"] - figures["one wav (4 s)"][runtime]["wall"]) / (FOLDER_CLIPS - 1)
        print(
            f"\n{runtime}: a clip in the folder costs {per_clip:.2f} s, the model's own compute "
            f"{figures[f'model {runtime}']:.2f} s ({per_clip / figures[f'model {runtime}']:.2f}x)"
        )


def cells(figures: dict) -> list[str]:
    return [
        f"{figures['wall']:.2f}",
        "-" if figures["first"] is None else f"{figures['first']:.2f}",
        f"{figures['memory']:.0f}",
    ]


if __name__ == "__main__":
    app.run(main)
