"""Reading media files with ffmpeg: stream info, video frames with their timestamps."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile

import numpy as np

from emorec import ravdess


class MediaError(Exception):
    """A clip that cannot be used; `reason` is a short category for build summaries."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def require_ffmpeg():
    if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
        raise RuntimeError("ffmpeg and ffprobe are needed: `apt-get install ffmpeg` (or `make install`)")


def probe(path: str) -> dict:
    """{'video': {...} or None, 'audio': {...} or None, 'duration': s} of a media file."""
    require_ffmpeg()
    result = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
                            capture_output=True, text=True)
    if result.returncode:
        raise MediaError("undecodable", result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "ffprobe failed")
    info = json.loads(result.stdout)
    streams = {}
    for stream in info.get("streams", []):
        streams.setdefault(stream.get("codec_type"), stream)
    return {"video": streams.get("video"), "audio": streams.get("audio"),
            "duration": float(info.get("format", {}).get("duration", 0) or 0)}


def frame_rate(video_stream: dict) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = video_stream.get(key, "0/0").partition("/")
        if float(den or 0) > 0 and float(num) > 0:
            return float(num) / float(den)
    return 0.0


def read_frames(path: str, max_width: int = 640, video_stream: dict | None = None):
    """Decodes every frame, scaled down to at most `max_width` wide.

    Returns (frames uint8 [N, H, W, 3] RGB, timestamps float64 [N] in seconds from the
    first frame, fps). Frames are neither dropped nor duplicated (variable frame rates keep
    their own timeline), so timestamps come from the stream, not from N / fps.
    """
    video_stream = video_stream or probe(path)["video"]
    if video_stream is None:
        raise MediaError("no video stream", path)
    width, height = int(video_stream["width"]), int(video_stream["height"])
    if width > max_width:
        height, width = 2 * round(height * max_width / width / 2), max_width
    cmd = ["ffmpeg", "-nostdin", "-v", "info", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
           "-vf", f"scale={width}:{height},showinfo", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    result = subprocess.run(cmd, capture_output=True)
    raw = np.frombuffer(result.stdout, np.uint8)
    count = raw.size // (width * height * 3)
    if result.returncode or count == 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise MediaError("undecodable", lines[-1] if lines else f"ffmpeg exit {result.returncode}")
    frames = raw[: count * width * height * 3].reshape(count, height, width, 3)
    times = [float(t) for t in re.findall(rb"pts_time:\s*(-?[\d.]+)", result.stderr)]
    timestamps = np.asarray(times[:count], np.float64)
    fps = frame_rate(video_stream)
    if len(timestamps) != count:  # showinfo output missing: fall back to the nominal rate
        timestamps = np.arange(count) / (fps or 30.0)
    return frames, timestamps - timestamps[0], fps


@contextlib.contextmanager
def local_file(source: ravdess.Source):
    """A path to the clip: the file itself, or a zip member copied to a temporary file
    (ffmpeg needs to seek in mp4s). Zips are never unpacked as a whole."""
    if source.member is None:
        yield source.path
        return
    fd, path = tempfile.mkstemp(suffix=source.extension)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with source.open() as member:
                    shutil.copyfileobj(member, out, 1 << 20)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as e:
                raise MediaError("corrupt zip member", str(e)) from None
        yield path
    finally:
        os.unlink(path)
