"""Can the input pipeline keep an accelerator fed? Training windows per second per CPU core,
against the windows per second each video model's training step takes on an H100/H200.

    .venv/bin/python -m benchmarks.input_pipeline [--clips=32] [--batches=12]

Supply: `windows.train_dataset` exactly as the trainer runs it (read the TFRecords, decode
the crops, cut a random 16-frame window, resize, augment, batch, prefetch) on a dataset built
from synthetic clips (`emorec.synthetic`, 3.5 s, crops stored at the builder's 112 px), for the
`av` and `video` configs at 112 and 224 px; tf.data limited to one thread (per core) and given
every core; with the clips' examples (encoded crops, waveforms) read from the TFRecords every
epoch, and cached in memory after the first (the trainer's default). Demand: each model's
forward FLOPs per window (TensorFlow's profiler, `benchmarks.common.flops_per_clip`), times 3
for a training step (forward and backward), on an H100/H200 SXM's 989 dense bf16 TFLOPS at the
utilisation stated in the table; cores needed = demand / windows per second per core.
"""

from __future__ import annotations

import os
import pathlib
import platform
import time

from absl import app, flags

from benchmarks.common import ROOT, flops_per_clip, print_table

_CLIPS = flags.DEFINE_integer(
    "clips", 32, "Synthetic audio-video clips to build (8 emotions x 2 statements per actor)."
)
_BATCHES = flags.DEFINE_integer("batches", 12, "Batches of 32 windows timed, after 2 of warm-up.")
_WORKDIR = flags.DEFINE_string("workdir", str(ROOT / "benchmarks" / "out" / "input_pipeline"), "Scratch folder.")
_MODELS = flags.DEFINE_list(
    "models",
    ["resnet_lstm", "resnet_transformer", "r3d", "mvitv2", "per_frame", "mvitv2+wave_cnn1d"],
    "Models whose demand is set beside the supply.",
)

PEAK_FLOPS = 989e12  # H100 / H200 SXM, dense bf16 (NVIDIA's datasheets)
UTILISATION = 0.4  # of the peak a training step keeps: a stated assumption, not a measurement
BATCH = 32
CONFIGS = {"av": "video model + audio (per_frame, VIDEO+AUDIO)", "video": "video models alone"}


def build(config: str, clips: int):
    import tensorflow_datasets as tfds

    from datasets.ravdess.ravdess_dataset_builder import Builder
    from emorec import synthetic

    workdir = pathlib.Path(_WORKDIR.value)
    actors = range(1, clips // 16 + 1)
    synthetic.make_sample(str(workdir / "clips"), synthetic.clips(actors=actors, modalities=(1,)))
    builder = Builder(data_dir=str(workdir / "tfds"), config=config)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(workdir / "clips")))
    return builder, "+".join(f"actor_{a:02d}" for a in actors)


def windows_per_second(builder, split: str, config: str, size: int, threads: int | None, cache: bool) -> float:
    import tensorflow as tf

    from emorec.data import windows

    spec = windows.WindowSpec(frames=16, image_size=size, faces=True, audio=config == "av")
    ds = windows.train_dataset(builder, split, spec, BATCH, epochs=_BATCHES.value + 4, steps=1, cache=cache)
    options = tf.data.Options()
    if threads:
        options.threading.private_threadpool_size = threads
        options.threading.max_intra_op_parallelism = 1
    batches = iter(ds.with_options(options))
    for _ in range(2):
        next(batches)
    start = time.perf_counter()
    for _ in range(_BATCHES.value):
        next(batches)
    return _BATCHES.value * BATCH / (time.perf_counter() - start)


def demand(name: str, size: int) -> float:
    """Windows per second a training step takes at UTILISATION of PEAK_FLOPS."""
    from emorec import models

    model = models.build(name, num_classes=8, frames=16, image_size=size)
    return UTILISATION * PEAK_FLOPS / (3 * flops_per_clip(model))


def main(argv):
    del argv
    cores = os.cpu_count()
    supply, rows = {}, []
    for config in CONFIGS:
        builder, split = build(config, _CLIPS.value)
        for size in (112, 224):
            one = windows_per_second(builder, split, config, size, threads=1, cache=False)
            cached = windows_per_second(builder, split, config, size, threads=1, cache=True)
            every = windows_per_second(builder, split, config, size, threads=None, cache=True)
            supply[config, size] = cached
            rows.append(
                [
                    f"supply: `{config}` config",
                    str(size),
                    f"{one:.1f}",
                    f"{cached:.1f}",
                    f"{every:.1f} on {cores} cores",
                    "",
                ]
            )
    for name in _MODELS.value:
        config = "av" if name == "per_frame" or "+" in name else "video"
        for size in (112, 224):
            needed = demand(name, size)
            rows.append(
                [
                    f"demand: {name} training on one H100/H200",
                    str(size),
                    f"{needed:.0f} needed",
                    "",
                    "",
                    f"{needed / supply[config, size]:.0f} cores of this machine's",
                ]
            )
    print_table(
        f"`python -m benchmarks.input_pipeline --clips={_CLIPS.value} --batches={_BATCHES.value}` on "
        f"{platform.machine()}, {cores} cores: training windows (16 frames) per second, batch {BATCH}; "
        f"demand at {UTILISATION:.0%} of {PEAK_FLOPS / 1e12:.0f} TFLOPS, 3 x forward FLOPs per window",
        [
            "pipeline",
            "face side",
            "windows/s, one core, read every epoch",
            "one core, examples cached (the default)",
            "all cores, cached",
            "host cores to keep up",
        ],
        rows,
    )


if __name__ == "__main__":
    app.run(main)
