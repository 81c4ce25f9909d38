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
            subprocess.run([video.ffmpeg(), "-nostdin", "-v", "error", "-y", "-stream_loop", str(loops - 1), "-i", str(REAL_CLIP),
                            "-vf", "scale=-2:720,pad=1280:720:(ow-iw)/2:0", "-r", "30000/1001",
                            "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p",
                            "-c:a", "aac", "-ar", "48000", str(path)], check=True)
    else:
        origin = "a synthetic clip (real RAVDESS not found)"
        if not path.exists():
            clip = ravdess.Clip(1, 1, 5, 1, 1, 1, 1)
            synthetic.write_mp4(str(path), synthetic.render_frames(clip, (1280, 720), 120 * loops),
                                synthetic.render_audio(clip, 4.0 * loops))
    return path, origin


def read_config(path: str) -> tuple[str, int | None, dict]:
    """(model, frames or None, build options) of a trainer's flagfile (relative to the project)."""
    from emorec import models

    values = {}
    for line in (ROOT / path).read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key.startswith("--"):
            values[key[2:]] = value
    options = models.parse_options(next(csv.reader([values["options"]])) if values.get("options") else [])
    return values["model"], int(values["frames"]) if "frames" in values else None, options


def print_table(caption: str, header: list[str], rows: list[list[str]]) -> None:
    """The one table a benchmark prints, under the command and setting that produced it."""
    print(f"\n{caption}\n")
    print(markdown_table(rows, header))
