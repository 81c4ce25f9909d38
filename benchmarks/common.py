"""What the benchmarks share: a clip in the RAVDESS originals' format (1280x720 H.264,
29.97 fps, 48 kHz AAC, 4 s: the real clip in ../shared/data/ravdess/clips re-encoded, or,
where that folder is absent, a synthetic one), and the printing of their one table."""

from __future__ import annotations

import csv
import pathlib
import subprocess

from emorec.evaluation.tables import markdown_table

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
REAL_CLIP = SHARED / "ravdess" / "clips" / "01-01-07-02-02-01-01.mp4"


def hd_clip(workdir: pathlib.Path, loops: int = 1) -> tuple[pathlib.Path, str]:
    """(path, where it came from); made once per workdir. `loops`: the clip played that many
    times over (a 4 s clip holds no 128-frame window beside another)."""
    from emorec import ravdess, synthetic
    from emorec.media import video

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / ("source_720p.mp4" if loops == 1 else f"source_720p_x{loops}.mp4")
    if REAL_CLIP.exists():
        origin = f"the real clip {REAL_CLIP.name}, re-encoded" + (f", played {loops} times" if loops > 1 else "")
        if not path.exists():
            subprocess.run(
                [
                    video.ffmpeg(),
                    "-nostdin",
                    "-v",
                    "error",
                    "-y",
                    "-stream_loop",
                    str(loops - 1),
                    "-i",
                    str(REAL_CLIP),
                    "-vf",
                    "scale=-2:720,pad=1280:720:(ow-iw)/2:0",
                    "-r",
                    "30000/1001",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "medium",
                    "-crf",
                    "20",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-ar",
                    "48000",
                    str(path),
                ],
                check=True,
            )
    else:
        origin = "a synthetic clip (real RAVDESS not found)"
        if not path.exists():
            clip = ravdess.Clip(1, 1, 5, 1, 1, 1, 1)
            synthetic.write_mp4(
                str(path),
                synthetic.render_frames(clip, (1280, 720), 120 * loops),
                synthetic.render_audio(clip, 4.0 * loops),
            )
    return path, origin


def config_flags(path: str) -> dict[str, str]:
    """{flag: value as written} of a trainer's flagfile (relative to the project)."""
    values = {}
    for line in (ROOT / path).read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key.startswith("--"):
            values[key[2:]] = value
    return values


def read_config(path: str) -> tuple[str, int | None, dict]:
    """(model, frames or None, build options) of a trainer's flagfile (relative to the project)."""
    from emorec import models

    values = config_flags(path)
    options = models.parse_options(next(csv.reader([values["options"]])) if values.get("options") else [])
    return values["model"], int(values["frames"]) if "frames" in values else None, options


def print_table(caption: str, header: list[str], rows: list[list[str]]) -> None:
    """The one table a benchmark prints, under the command and setting that produced it."""
    print(f"\n{caption}\n")
    print(markdown_table(rows, header))


def random_inputs(model, batch: int) -> dict:
    """A batch of what `model` takes: random faces, waveforms and speaker statistics."""
    import numpy as np

    rng = np.random.default_rng(0)

    def one(t):
        shape = (batch, *t.shape[1:])
        if "int" in str(t.dtype):
            return rng.integers(0, 256, shape).astype("uint8")
        values = rng.standard_normal(shape)
        # speaker_stats: a mean and a positive spread per mel band
        return (values if t.name != "speaker_stats" else np.abs(values) + 1).astype("float32")

    return {t.name: one(t) for t in model.inputs}


def flops_per_clip(model) -> float:
    """TensorFlow's profiler count of one clip's forward pass (a multiply and an add: 2)."""
    import tensorflow as tf

    specs = {t.name: tf.TensorSpec((1, *t.shape[1:]), t.dtype) for t in model.inputs}
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops
