"""Frames as they arrive, from a video file (streamed through ffmpeg), a camera, or an audio
file (wav, mp3, flac, ...: image-less frames on the video clock training used, for
audio-only models); and a still photo, as the one frame of a video."""

from __future__ import annotations

import concurrent.futures

import contextlib
import os
import queue
import re
import subprocess
import threading
import time
from typing import Iterator, NamedTuple

import cv2
import numpy as np

from emorec.errors import UserError
from emorec.media import audio, video
from emorec.media.features import FPS

# What a folder given to emorec-predict is searched for; any other file is said and passed over.
MEDIA_EXTENSIONS = video.VIDEO_EXTENSIONS + video.AUDIO_EXTENSIONS + video.IMAGE_EXTENSIONS
# No photo is wider: what reads a photo at its own size.
WIDEST_PHOTO = 1 << 20


class Frame(NamedTuple):
    index: int
    time: float  # seconds from the first frame
    image: np.ndarray | None  # uint8 RGB; None for an audio file


class Source(NamedTuple):
    frames: Iterator[Frame]
    fps: float
    count: int | None  # frames expected (files), None for cameras
    waveform: np.ndarray | None  # 16 kHz mono audio of the whole file, None if it has none
    name: str
    has_video: bool = True
    rewind: object = None  # files: () -> the frames again from the start (a first pass can look ahead)


def _scaled(width: int, height: int, max_width: int) -> tuple[int, int]:
    if width <= max_width:
        return width, height
    return max_width, 2 * round(height * max_width / width / 2)


def _file_frames(path: str, width: int, height: int, skip_deblocking: bool = False) -> Iterator[Frame]:
    """Decodes frame by frame, as `video.decode` does for the dataset builder; times come
    from the stream, so variable frame rates keep theirs."""
    with video.input_alias(path) as alias:
        cmd = [
            video.ffmpeg(),
            "-nostdin",
            "-v",
            "info",
            *(["-skip_loop_filter", "all"] if skip_deblocking else []),
            "-i",
            alias,
            *video.rgb_frames(f"{width}:{height}"),
        ]
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        times: queue.Queue = queue.Queue()
        log: list[str] = []

        def read_log():
            for line in iter(process.stderr.readline, b""):
                text = line.decode(errors="replace")
                match = re.search(r"pts_time:\s*(-?[\d.]+)", text)
                if match:
                    times.put(float(match.group(1)))
                else:
                    log.append(text)
            times.put(None)

        threading.Thread(target=read_log, daemon=True).start()
        size, index, first = width * height * 3, 0, None
        try:
            while True:
                data = process.stdout.read(size)
                if len(data) < size:
                    break
                t = times.get()
                if t is None:
                    break
                first = t if first is None else first
                yield Frame(index, t - first, np.frombuffer(data, np.uint8).reshape(height, width, 3))
                index += 1
        finally:
            process.stdout.close()
            process.kill()
            process.wait()
    if index == 0:
        raise video.MediaError(
            "undecodable", f"{path}: {log[-1].strip().replace(alias, path) if log else 'no frame decoded'}"
        )


def open_audio(path: str, waveform: np.ndarray) -> Source:
    count = max(int(len(waveform) / audio.SAMPLE_RATE * FPS), 1)
    frames = (Frame(i, i / FPS, None) for i in range(count))
    return Source(frames, FPS, count, waveform, path, has_video=False)


def file_problem(path: str) -> str | None:
    """Why `path` cannot be read as an input file, in the words emorec-predict says it; None
    for a regular file. A FIFO, socket or device is refused: a file is opened three times
    (picture, sound, frames), and a pipe gives its bytes once, to the first."""
    if os.path.isfile(path):
        return None
    if os.path.islink(path) and not os.path.exists(path):
        return f"a link to {os.readlink(path)}, which does not exist"
    if os.path.isdir(path):
        return f"a folder, not a file: give the files in it (e.g. {os.path.join(path, '*.wav')})"
    if os.path.exists(path):
        return (
            "not a regular file (a FIFO, socket or device): save the stream to a file first, or give a "
            "camera by its index"
        )
    return "no such file"


def check_file(path: str) -> None:
    """FileNotFoundError for a path that is not a regular file (`file_problem`)."""
    problem = file_problem(path)
    if problem:
        raise UserError(f"{path}: {problem}")


def open_file(path: str, max_width: int = 640, skip_deblocking: bool = False, load_audio=audio.load_audio) -> Source:
    """`load_audio`: path -> its 16 kHz waveform (`AudioAhead.load`: one decoded ahead)."""
    check_file(path)
    with video.input_alias(path) as alias:
        capture = cv2.VideoCapture(alias)
    if not capture.isOpened() or not capture.get(cv2.CAP_PROP_FRAME_WIDTH):
        capture.release()
        try:  # no picture: an audio file, or nothing usable
            return open_audio(path, load_audio(path))
        except video.MediaError as e:
            raise video.MediaError(
                "undecodable", f"{path} could not be opened as a video or as audio ({e.reason})"
            ) from None
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps, count = capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    try:
        waveform = load_audio(path)
    except video.MediaError as e:
        if e.reason != "no audio stream":
            raise
        waveform = None
    width, height = _scaled(width, height, max_width)

    def frames():
        return _file_frames(path, width, height, skip_deblocking)

    return Source(frames(), fps, count or None, waveform, path, rewind=frames)


def is_photo(path: str) -> bool:
    return path.lower().endswith(video.IMAGE_EXTENSIONS)


class Photo(NamedTuple):
    frame: Frame  # the photo as a video's frame is decoded (at most max_width wide)
    image: np.ndarray  # uint8 RGB at the photo's own size, upright (its EXIF orientation applied)
    name: str

    @property
    def source(self) -> Source:
        """The photo as a one-frame silent video."""
        return Source(iter([self.frame]), 0.0, 1, None, self.name)


def open_photo(path: str, max_width: int = 640) -> Photo:
    """A still photo; MediaError, in one line naming the file, for one that cannot be decoded.
    Its frame goes through the ffmpeg command a video's frames do (`_file_frames`, scaled to
    `max_width` alike), so that a face in it is cropped from the pixels a one-frame video of
    it would give."""
    check_file(path)
    try:
        image = np.array(video.decode(path, with_audio=False, max_width=WIDEST_PHOTO)["frames"][0])
    except video.MediaError as e:
        raise video.MediaError(
            e.reason, f"{path}: not an image that can be read ({e.detail.removeprefix(path + ': ')})"
        ) from None
    height, width = image.shape[:2]
    scaled = _scaled(width, height, max_width)
    if scaled == (width, height):
        frame = Frame(0, 0.0, image)
    else:
        with contextlib.closing(_file_frames(path, *scaled)) as frames:
            frame = next(frames)
    return Photo(frame, image, path)


def open_camera(index: int, max_width: int = 640) -> Source:
    try:
        capture = cv2.VideoCapture(index)
    except (cv2.error, OverflowError):  # an index past a C int: no such camera either
        capture = None
    if capture is None or not capture.isOpened():
        raise UserError(
            f"camera {index} could not be opened: is it connected, and free (not used by "
            f"another program)? On Linux, check that /dev/video{index} exists and is readable"
        )
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0

    def frames():
        start, index_ = time.monotonic(), 0
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                height, width = bgr.shape[:2]
                rgb = cv2.cvtColor(cv2.resize(bgr, _scaled(width, height, max_width)), cv2.COLOR_BGR2RGB)
                yield Frame(index_, time.monotonic() - start, rgb)
                index_ += 1
        finally:
            capture.release()

    return Source(frames(), fps, None, None, f"camera {index}")


def open_input(spec: str, max_width: int = 640, skip_deblocking: bool = False, load_audio=audio.load_audio) -> Source:
    """A camera index ('0'), or a video or audio file's path."""
    if spec.isdigit():
        return open_camera(int(spec), max_width)
    return open_file(spec, max_width, skip_deblocking, load_audio)


class AudioAhead:
    """A folder's next file's audio decoded (by ffmpeg, in a process of its own) while the model
    reads this one's: in a folder of short clips the decoding took about as long as the model."""

    def __init__(self):
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="audio-ahead")
        self._ahead: dict[str, concurrent.futures.Future] = {}

    def start(self, path: str) -> None:
        if not path.isdigit() and not is_photo(path):
            self._ahead[path] = self._pool.submit(audio.load_audio, path)

    def load(self, path: str) -> np.ndarray:
        """The path's waveform, decoded ahead where it was (its MediaError raised here alike)."""
        future = self._ahead.pop(path, None)
        return future.result() if future else audio.load_audio(path)

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
