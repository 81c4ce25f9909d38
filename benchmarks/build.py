"""Dataset build speed: clips per second, peak memory and bytes per clip for the `av` config.

    .venv/bin/python -m benchmarks.build [--copies=48]

Clips are in the RAVDESS originals' format (1280x720 H.264 at 29.97 fps with 48 kHz AAC),
made by re-encoding the real clip in ../shared/data/ravdess/clips (or, where that folder
is absent, a synthetic clip) and copying it under RAVDESS names. Each build runs in a fresh
process: once with the default local builder (a thread per core), once as an Apache Beam
pipeline on the DirectRunner with 2 worker processes, once on Beam's DaskRunner
(`emorec.beam.DaskRunner`) against a dask.distributed cluster of 2 worker processes on
loopback, started in that process (its start-up counted). Time is measured around
`download_and_prepare` (interpreter and TensorFlow start-up excluded); memory is the peak
resident size of the largest process (the Dask workers are not its children).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import platform
import resource
import shutil
import subprocess
import sys

from absl import app, flags

from benchmarks.common import ROOT, hd_clip, print_table
from emorec.media import video

_COPIES = flags.DEFINE_integer("copies", 48, "Clips to build (8 emotions x copies/8 actors).")
_WORKDIR = flags.DEFINE_string("workdir", str(ROOT / "benchmarks" / "out" / "build"), "Scratch folder.")
_RUN = flags.DEFINE_enum("run", None, ["local", "beam", "dask"], "Internal: one build in this process.")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Internal.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Internal.")


def make_clips(workdir: pathlib.Path, copies: int) -> tuple[pathlib.Path, str]:
    """`copies` clips in the originals' format under RAVDESS names; their folder and origin."""
    from emorec import ravdess

    hd, origin = hd_clip(workdir)
    clips = workdir / "clips"
    shutil.rmtree(clips, ignore_errors=True)
    for i in range(copies):
        clip = ravdess.Clip(1, 1, i % 8 + 1, 1, 1, 1, i // 8 + 1)
        target = clips / f"Actor_{clip.actor:02d}" / clip.name(".mp4")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(hd, target)
    return clips, origin


def run_one(mode: str, manual_dir: str, data_dir: str) -> dict:
    import time

    import tensorflow_datasets as tfds

    from datasets.ravdess.ravdess_dataset_builder import Builder

    options, cluster = {}, contextlib.nullcontext()
    start = time.perf_counter()
    if mode == "beam":
        import apache_beam as beam

        options["beam_options"] = beam.options.pipeline_options.PipelineOptions(
            runner="DirectRunner", direct_num_workers=2, direct_running_mode="multi_processing"
        )
    if mode == "dask":
        import apache_beam as beam
        from dask.distributed import LocalCluster

        os.environ["PYTHONPATH"] = str(ROOT)  # the workers import the builder from the checkout
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        options["beam_options"] = beam.options.pipeline_options.PipelineOptions(
            runner="emorec.beam.DaskRunner", dask_client_address=cluster.scheduler_address
        )
    builder = Builder(data_dir=data_dir, config="av")
    with cluster:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir, **options))
    seconds = time.perf_counter() - start
    examples = sum(s.num_examples for s in builder.info.splits.values())
    size = sum(f.stat().st_size for f in pathlib.Path(builder.data_dir).glob("*.tfrecord*"))
    return {"seconds": seconds, "examples": examples, "bytes": size}


def decode_only(clips: pathlib.Path) -> dict:
    """The ceiling: every clip decoded as the builder decodes it (frames and audio, a thread
    per core), nothing else."""
    import time

    from emorec import ravdess
    from emorec.media import clip_features
    from emorec.media.faces import FacePipeline

    pipeline = FacePipeline()
    paths = [source.path for source in ravdess.scan(str(clips)).sources]
    start = time.perf_counter()
    for _ in clip_features.map_in_threads(
        lambda p: video.decode(p, max_width=pipeline.decode_width, skip_deblocking=pipeline.fast_decode), paths
    ):
        pass
    return {"seconds": time.perf_counter() - start, "examples": len(paths)}


def measure(mode: str, clips: pathlib.Path, workdir: pathlib.Path) -> dict:
    data_dir = workdir / f"data_{mode}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, "-m", "benchmarks.build", f"--run={mode}", f"--manual_dir={clips}", f"--data_dir={data_dir}"]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{mode} build failed:\n{result.stderr[-3000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    # Peak RSS of the largest descendant waited for so far: runs go from small to large memory.
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out


def main(argv):
    del argv
    if _RUN.value:
        print(json.dumps(run_one(_RUN.value, _MANUAL_DIR.value, _DATA_DIR.value)))
        return
    workdir = pathlib.Path(_WORKDIR.value)
    workdir.mkdir(parents=True, exist_ok=True)
    clips, origin = make_clips(workdir, _COPIES.value)
    os.sync()  # the copies' write-back would otherwise land in the first timing
    ceiling = decode_only(clips)
    rows = [
        [
            "decode only (the ceiling), a thread per core",
            f"{ceiling['examples']}",
            f"{ceiling['seconds']:.1f}",
            f"{ceiling['examples'] / ceiling['seconds']:.2f}",
            "",
            "",
        ]
    ]
    for mode, label in (
        ("local", "single process, a thread per core"),
        ("beam", "Beam DirectRunner, 2 workers"),
        ("dask", "Beam DaskRunner, a Dask cluster of 2 workers on loopback"),
    ):
        r = measure(mode, clips, workdir)
        rows.append(
            [
                label,
                f"{r['examples']}",
                f"{r['seconds']:.1f}",
                f"{r['examples'] / r['seconds']:.2f}",
                f"{r['peak_mib']:.0f}",
                f"{r['bytes'] / r['examples'] / 1024:.0f}",
            ]
        )
        print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
    ffmpeg = subprocess.run([video.ffmpeg(), "-version"], capture_output=True, text=True).stdout.split()[2]
    print_table(
        f"`python -m benchmarks.build --copies={_COPIES.value}`: `av` config, {_COPIES.value} clips of "
        f"1280x720 H.264 29.97 fps + 48 kHz AAC, 4 s ({origin}); ffmpeg {ffmpeg}; {os.cpu_count()} cores, "
        f"{platform.machine()}",
        ["build", "clips", "seconds", "clips/s", "peak MiB (largest process)", "KiB on disk per clip"],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
