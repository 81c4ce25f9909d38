"""Reading media files with ffmpeg: video frames with their timestamps, and audio."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
import zlib

import numpy as np

from emorec.errors import UserError

# What is read as a clip wherever a folder is searched (a user's labelled corpus, emorec-predict's
# input): the video containers and audio files ffmpeg reads (CREMA-D ships .flv, phones write
# .3gp, camcorders .mts).
VIDEO_EXTENSIONS = (
    ".mp4",
    ".mov",
    ".m4v",
    ".mkv",
    ".avi",
    ".webm",
    ".flv",
    ".3gp",
    ".3g2",
    ".mts",
    ".m2ts",
    ".ts",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".ogv",
)
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".wma", ".aif", ".aiff")
# Still photos, which emorec-predict reads as well (a corpus folder does not: a photo has no clip's label).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# What ffmpeg says of a damaged file it decodes anyway (exit status 0).
DAMAGE = r"partial file|Invalid NAL unit|[Pp]acket corrupt|corrupt input packet|error while decoding|Invalid data found"
# A JPEG cut short decodes grey below the cut, said only as these; cameras' MJPEG videos say them
# of frames that still look whole, so only a photo is refused for them.
PHOTO_DAMAGE = r"overread \d+|EOI missing"


class MediaError(UserError):
    """A clip that cannot be used; `reason` is a short category for build summaries."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@functools.cache
def ffmpeg() -> str:
    """The ffmpeg binary: $IMAGEIO_FFMPEG_EXE, else the static build in the imageio-ffmpeg
    wheel, else the system's. The static build starts in 13 ms where Debian's, linked to 215
    libraries, takes 83 ms: a fifth of a clip's build; both give the same pixels."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        if shutil.which("ffmpeg"):
            return "ffmpeg"
    raise RuntimeError(
        "ffmpeg is needed: `pip install imageio-ffmpeg` (emorec's core install has it), "
        "`apt-get install ffmpeg`, or IMAGEIO_FFMPEG_EXE=/path/to/ffmpeg"
    )


def piped_rgb(width: int, height: int, frame_rate: str) -> list[str]:
    """ffmpeg's command up to its first input: RGB frames of `width` x `height` piped to its
    stdin at `frame_rate` frames a second (an encoder's arguments follow)."""
    return [ffmpeg(), "-nostdin", "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{width}x{height}", "-r", frame_rate, "-i", "-"]  # fmt: skip


@functools.cache
def _showinfo() -> str:
    """The filter that reports each frame's timestamp. Without its per-plane checksums, which
    nothing here reads, a 720p clip decodes 15% faster (0.37 against 0.44 s); an ffmpeg without
    that option keeps them."""
    options = subprocess.run([ffmpeg(), "-hide_banner", "-h", "filter=showinfo"], capture_output=True, text=True)
    return "showinfo=checksum=0" if "checksum" in options.stdout else "showinfo"


@contextlib.contextmanager
def input_alias(path: str):
    """A name for `path` that ffmpeg and OpenCV read as a plain file: a link in a temporary
    folder. The checks below read ffmpeg's log, which echoes its input's name: a folder called
    "partial file recovery" or a name holding "Duration: 00:10:00.00" would be read as ffmpeg's
    verdict, and "take:2.mp4" as a protocol. Where links cannot be made (Windows without the
    right), `file:` and the absolute path keep the protocol out and only that."""
    with tempfile.TemporaryDirectory() as tmp:
        alias = os.path.join(tmp, "input" + os.path.splitext(path)[1][:16])
        try:
            os.symlink(os.path.abspath(path), alias)
        except OSError:
            alias = "file:" + os.path.abspath(path)
        yield alias


def rgb_frames(scale: str, target: str = "pipe:1") -> list[str]:
    """ffmpeg output options that write a video's frames, raw RGB, to `target` (a file, or
    stdout), each frame's timestamp in the log; `scale` sizes them (the scale filter's
    `w=...:h=...`). The builder and the predictor both decode through these, so both see the
    same pixels.

    The area filter scales the YUV picture and a second step only converts it to RGB, on
    swscale's fast unscaled path: a 720p clip's pass takes 0.28 s of CPU where scaling
    straight to RGB takes 0.39, and the pixels differ by 1.8/255 on average."""
    return [
        "-map",
        "0:v:0",
        "-fps_mode",
        "passthrough",
        "-filter_threads",
        "1",
        "-vf",
        f"scale={scale}:flags=area,format=yuv420p,{_showinfo()},format=rgb24",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-y",
        target,
    ]


def decode(
    path: str,
    with_video: bool = True,
    with_audio: bool = True,
    max_width: int = 640,
    sample_rate: int = 16000,
    skip_deblocking: bool = False,
) -> dict:
    """One ffmpeg pass over a clip: its frames and/or its audio.

    Returns {'frames': uint8 [N, H, W, 3] RGB at most `max_width` wide, 'timestamps':
    float64 [N] seconds from the first frame, 'fps': the nominal rate} and/or {'waveform':
    float32 mono at `sample_rate`}. Frames are neither dropped nor duplicated, so variable
    frame rates keep their own timeline. A missing stream or an undecodable file raises
    MediaError before any frame is decoded where ffmpeg can tell. `skip_deblocking` skips
    H.264's loop filter: about 7% faster, with artefacts that vanish when frames are shrunk.
    """
    # One decoding thread: the builder runs a clip per core, and ffmpeg's own threads on top
    # of those only contend (benchmarks/build.py: 16.9 s against 15.0 s for 48 clips).
    cmd = [ffmpeg(), "-nostdin", "-v", "info", "-threads", "1"]
    cmd += ["-skip_loop_filter", "all"] if skip_deblocking else []
    with tempfile.TemporaryDirectory() as tmp, input_alias(path) as alias:
        cmd += ["-i", alias]
        audio_path = os.path.join(tmp, "audio.f32")
        if with_audio:
            cmd += ["-map", "0:a:0", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", audio_path]
        # Frames go to a file that is mapped, not read: a 720p clip's 47 MB through a pipe
        # cost 0.03 s of CPU, and the builder touches only each frame's face and every 6th
        # frame whole. The log goes to a file too, so that nothing needs polling.
        frames_path = os.path.join(tmp, "frames.rgb")
        if with_video:
            cmd += rgb_frames(f"w='min(iw,{max_width})':h=-2", frames_path)
        with open(os.path.join(tmp, "log"), "w+b") as log_file:
            returncode = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=log_file).returncode
            log_file.seek(0)
            log = log_file.read().decode(errors="replace")
        if returncode:
            # ffmpeg 5 names the stream in "Stream map '0:a:0' matches no streams", ffmpeg 9 in
            # "Failed to set value '0:a:0' for option 'map'".
            missing = re.search(r"'0:(a|v):0'(?: matches no streams| for option 'map')", log)
            if missing:
                kind = "audio" if missing.group(1) == "a" else "video"
                raise MediaError(f"no {kind} stream", f"{path} has no {kind} stream")
            lines = [line for line in log.strip().splitlines() if "showinfo" not in line]
            said = lines[-1].replace(alias, path) if lines else f"ffmpeg exit {returncode}"
            raise MediaError("undecodable", said if path in said else f"{path}: {said}")
        # ffmpeg decodes past damage and still exits 0: its own words say the file is broken.
        said = DAMAGE + (f"|{PHOTO_DAMAGE}" if path.lower().endswith(IMAGE_EXTENSIONS) else "")
        damage = re.search(rf"^.*({said}).*$", log, re.M)
        if damage:
            words = re.sub(r" @ 0x[0-9a-f]+", "", damage.group(0).strip())  # "[mjpeg @ 0x55...]": an address
            raise MediaError("damaged", f"{path}: {words.replace(alias, path)}")
        out = {}
        if with_audio:
            # A lossy decoder overshoots full scale a little; models take [-1, 1].
            out["waveform"] = np.clip(np.fromfile(audio_path, np.float32), -1.0, 1.0)
        if with_video:
            out.update(_frames(path, log, frames_path))
    _check_duration(path, log, out, sample_rate)
    return out


def _frames(path: str, log: str, frames_path: str) -> dict:
    """The frames ffmpeg wrote to `frames_path`, mapped read-only (the mapping outlives the
    file), with their timestamps and the nominal rate from its log."""
    # ffmpeg lists its outputs in the order they start, not as given: find the frames'.
    size = re.search(
        rf"Output #\d+, rawvideo, to '{re.escape(frames_path)}'.*?Video: rawvideo.*?, (\d+)x(\d+)", log, re.S
    )
    if not size:
        raise MediaError("undecodable", f"{path}: ffmpeg reported no video output")
    width, height = int(size.group(1)), int(size.group(2))
    count = os.path.getsize(frames_path) // (width * height * 3)
    if count == 0:
        raise MediaError("undecodable", f"{path}: no video frame could be decoded")
    frames = np.memmap(frames_path, np.uint8, "r", shape=(count, height, width, 3))
    times = np.array([float(t) for t in re.findall(r"pts_time:\s*(-?[\d.]+)", log)[:count]])
    nominal = re.search(r"Stream #0:\d+.*?: Video: .*?(\d+(?:\.\d+)?) fps", log)
    fps = float(nominal.group(1)) if nominal else 0.0
    if len(times) != count:  # no showinfo lines: fall back to the nominal rate
        times = np.arange(count) / (fps or 30.0)
    if not fps and count > 1:
        fps = 1 / float(np.median(np.diff(times)))
    return {"frames": frames, "timestamps": times - times[0], "fps": fps}


def _check_duration(path: str, log: str, out: dict, sample_rate: int) -> None:
    """MediaError('truncated') when what was decoded falls short of the container's duration
    by more than half a second and a tenth (a file cut short whose index survived)."""
    stated = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", log)
    if not stated:
        return
    container = int(stated.group(1)) * 3600 + int(stated.group(2)) * 60 + float(stated.group(3))
    spans = []
    if "timestamps" in out:
        spans.append(out["timestamps"][-1] + 1 / (out["fps"] or 30.0))
    if "waveform" in out:
        spans.append(len(out["waveform"]) / sample_rate)
    decoded = max(spans, default=container)
    if decoded < container - max(0.5, 0.1 * container):
        raise MediaError("truncated", f"{path}: {decoded:.2f} s decoded of the {container:.2f} s its container states")


@contextlib.contextmanager
def local_file(source):
    """A path to the clip (a `corpora.Clip` or `ravdess.Source`): the file itself, or a zip
    member copied to a temporary file (ffmpeg needs to seek in mp4s). Zips are never unpacked
    as a whole."""
    if source.member is None:
        yield source.path
        return
    fd, path = tempfile.mkstemp(suffix=source.extension)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with source.open() as member:
                    shutil.copyfileobj(member, out, 1 << 20)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error) as e:
                raise MediaError("corrupt zip member", f"{type(e).__name__}: {e}") from None
        yield path
    finally:
        os.unlink(path)
