"""A small synthetic RAVDESS-like sample, for tests and the demo only. Not real data.

Clips follow the RAVDESS naming and the originals' format (H.264 video at 29.97 fps with a
48 kHz audio track; 16-bit 48 kHz wav for audio-only files), so every part of the pipeline
runs on them unchanged. Each shows a real photograph of a face (scikit-image's
public-domain astronaut image, which ships inside the package) that drifts slightly from
frame to frame. Each emotion gets its own cue in both modalities so that a model can learn
the labels from either one:

- video: the face is tinted with the emotion's colour (`EMOTION_TINTS`);
- audio: a voiced, syllable-modulated tone at the emotion's pitch (`EMOTION_PITCH_HZ`).

Actors differ (background, face size and position, mirror image, pitch offset) so that
actor-independent folds are not trivial copies. Output is deterministic given the seed.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
import wave
import zipfile
from typing import Iterable, Sequence

import numpy as np

from emorec import ravdess
from emorec.media import video
from emorec.media.features import FPS

FRAME_RATE = "30000/1001"  # RAVDESS's 29.97 fps, exactly
SAMPLE_RATE = 48000
# Distinct hues, one per emotion code 1..8 (RGB).
EMOTION_TINTS = np.array(
    [
        (128, 128, 128),
        (60, 120, 255),
        (255, 220, 0),
        (0, 40, 160),
        (230, 20, 20),
        (150, 0, 200),
        (40, 170, 40),
        (255, 120, 200),
    ],
    np.float32,
)
# Spread over three octaves so that classes stay apart after per-actor offsets.
EMOTION_PITCH_HZ = np.geomspace(110.0, 880.0, 8)


def _face_image() -> np.ndarray:
    from skimage import data

    # The astronaut's head and shoulders; the face is well inside this box.
    return data.astronaut()[10:300, 100:350]


def _actor_style(actor: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, actor])
    return {
        "background": rng.uniform(30, 220, size=3).astype(np.float32),
        "scale": rng.uniform(0.6, 0.8),  # face height as a fraction of frame height
        "offset": rng.uniform(-0.08, 0.08, size=2),
        "mirror": bool(actor % 2),
        "pitch": rng.uniform(0.97, 1.03),
    }


def _rng(clip: ravdess.Clip, seed: int, stream: int) -> np.random.Generator:
    # Modality is left out: an audio-video clip and its audio-only twin share one recording.
    return np.random.default_rng([seed, *dataclasses.astuple(clip)[1:], stream])


def render_frames(clip: ravdess.Clip, size: tuple[int, int], num_frames: int, seed: int = 0) -> np.ndarray:
    """uint8 RGB frames [num_frames, height, width, 3] of the clip's synthetic face."""
    import cv2

    width, height = size
    style = _actor_style(clip.actor, seed)
    rng = _rng(clip, seed, 1)
    face = _face_image().astype(np.float32)
    if style["mirror"]:
        face = face[:, ::-1]
    alpha = 0.4 + 0.15 * (clip.intensity - 1)
    face = (1 - alpha) * face + alpha * EMOTION_TINTS[clip.emotion - 1]
    face_h = style["scale"] * height
    base_scale = face_h / face.shape[0]
    phase = rng.uniform(0, 2 * np.pi)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    canvas = np.empty((height, width, 3), np.float32)
    for i in range(num_frames):
        t = i / FPS
        # A slow drift and a slight nod: motion a face detector and tracker must follow.
        dx = (style["offset"][0] + 0.03 * np.sin(2 * np.pi * 0.5 * t + phase)) * width
        dy = (style["offset"][1] + 0.02 * np.sin(2 * np.pi * 0.8 * t + phase)) * height
        scale = base_scale * (1 + 0.03 * np.sin(2 * np.pi * 0.3 * t))
        cx, cy = width / 2 + dx, height / 2 + dy
        matrix = np.array(
            [[scale, 0, cx - scale * face.shape[1] / 2], [0, scale, cy - scale * face.shape[0] / 2]], np.float32
        )
        canvas[:] = style["background"]
        cv2.warpAffine(
            face, matrix, (width, height), dst=canvas, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
        )
        frames[i] = np.clip(canvas + rng.normal(0, 3, canvas.shape), 0, 255)
    return frames


def render_audio(clip: ravdess.Clip, duration: float, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """float32 mono waveform in [-1, 1]: silence, a voiced 'sentence', silence, like RAVDESS."""
    style = _actor_style(clip.actor, seed)
    rng = _rng(clip, seed, 2)
    t = np.arange(int(round(duration * sample_rate))) / sample_rate
    f0 = EMOTION_PITCH_HZ[clip.emotion - 1] * style["pitch"] * rng.uniform(0.98, 1.02)
    # A little vibrato so the pitch is a contour, not a single line.
    inst = f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(inst) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6))
    start, stop = 0.2 * duration, 0.8 * duration
    syllables = 0.5 * (1 - np.cos(2 * np.pi * 4 * (t - start)))
    envelope = np.where((t > start) & (t < stop), syllables, 0.0)
    gain = 0.25 * (1.6 if clip.intensity == 2 else 1.0)
    signal = gain * envelope * voiced / 2.3 + rng.normal(0, 0.003, t.shape)
    return np.clip(signal, -1, 1).astype(np.float32)


def write_wav(path: str, waveform: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM mono wav."""
    pcm = (np.clip(waveform, -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(pcm.tobytes())


def write_mp4(
    path: str,
    frames: np.ndarray,
    waveform: np.ndarray | None,
    frame_rate: str = FRAME_RATE,
    sample_rate: int = SAMPLE_RATE,
) -> None:
    """H.264 (yuv420p) mp4 with an optional AAC track; bit-exact for equal inputs."""
    height, width = frames.shape[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = video.piped_rgb(width, height, frame_rate)
        if waveform is not None:
            wav = os.path.join(tmp, "audio.wav")
            write_wav(wav, waveform, sample_rate)
            cmd += ["-i", wav, "-c:a", "aac", "-b:a", "96k", "-ar", str(sample_rate)]
        cmd += [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-pix_fmt",
            "yuv420p",
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            path,
        ]
        result = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
        if result.returncode:
            raise RuntimeError(f"ffmpeg could not write {path}: {result.stderr.decode().strip()}")


def clips(
    actors: Iterable[int] = (1, 2, 3, 4, 5, 6),
    emotions: Iterable[int] = range(1, 9),
    statements: Iterable[int] = (1, 2),
    repetitions: Iterable[int] = (1,),
    intensities: Iterable[int] = (1,),
    modalities: Sequence[int] = (1, 3),
) -> list[ravdess.Clip]:
    """The clips of a sample: every combination of the given fields (speech only)."""
    result = []
    for actor in actors:
        for modality in modalities:
            for emotion in emotions:
                for intensity in intensities:
                    if emotion == 1 and intensity == 2:
                        continue  # neutral has no strong intensity
                    for statement in statements:
                        for repetition in repetitions:
                            result.append(ravdess.Clip(modality, 1, emotion, intensity, statement, repetition, actor))
    return result


def make_sample(
    out_dir: str,
    clip_list: Sequence[ravdess.Clip] | None = None,
    *,
    duration: float = 3.5,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    progress: bool = False,
) -> list[str]:
    """Writes the clips as `out_dir/Actor_XX/<RAVDESS name>` and returns their paths.

    Modality 01 becomes an mp4 with audio, 02 an mp4 without, 03 a wav. Files already
    present are kept, so a second call is cheap.
    """
    clip_list = clips() if clip_list is None else clip_list
    num_frames = int(round(duration * FPS))
    paths = []
    iterator = clip_list
    if progress:
        from tqdm import tqdm

        iterator = tqdm(clip_list, desc="synthetic clips", unit="clip")
    for clip in iterator:
        folder = os.path.join(out_dir, f"Actor_{clip.actor:02d}")
        os.makedirs(folder, exist_ok=True)
        extension = ".wav" if clip.modality == 3 else ".mp4"
        path = os.path.join(folder, clip.name(extension))
        paths.append(path)
        if os.path.exists(path):
            continue
        partial = path + ".part" + extension
        if clip.modality == 3:
            write_wav(partial, render_audio(clip, duration, seed=seed), SAMPLE_RATE)
        else:
            audio = render_audio(clip, duration, seed=seed) if clip.modality == 1 else None
            write_mp4(partial, render_frames(clip, size, num_frames, seed), audio)
        os.replace(partial, path)  # an interrupted run never leaves half a clip behind
    return paths


def zip_like_zenodo(sample_dir: str, out_dir: str) -> list[str]:
    """Packs a sample into the Zenodo download's zips (`Video_Speech_Actor_XX.zip` with
    `Actor_XX/*.mp4`, `Audio_Speech_Actors_01-24.zip` with `Actor_XX/*.wav`)."""
    os.makedirs(out_dir, exist_ok=True)
    archives: dict[str, list[tuple[str, str]]] = {}
    for dirpath, _, filenames in os.walk(sample_dir):
        for filename in sorted(filenames):
            clip = ravdess.parse(filename)
            if clip.modality == 3:
                name = "Audio_Speech_Actors_01-24.zip"
            else:
                name = f"Video_Speech_Actor_{clip.actor:02d}.zip"
            member = f"Actor_{clip.actor:02d}/{filename}"
            archives.setdefault(name, []).append((os.path.join(dirpath, filename), member))
    paths = []
    for name, members in sorted(archives.items()):
        path = os.path.join(out_dir, name)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            for source, member in sorted(members, key=lambda m: m[1]):
                archive.write(source, member)
        paths.append(path)
    return paths


def labelled_folder(
    out_dir: str,
    labels: Sequence[str] = ("neutral", "happy", "sad", "angry"),
    speakers: Iterable[int] = (1, 2, 3),
    clips_per_label: int = 3,
    duration: float = 1.0,
    seed: int = 0,
) -> list[str]:
    """A user's labelled folder, `LABEL/SPEAKER/clip_N.wav` (`emorec.corpora.LabelledFolder`):
    each label voiced as the RAVDESS emotion at its position (a tone pitched per emotion). Returns the paths."""
    paths = []
    for emotion, label in enumerate(labels, start=1):
        for speaker in speakers:
            folder = os.path.join(out_dir, label, f"speaker_{speaker}")
            os.makedirs(folder, exist_ok=True)
            for n in range(clips_per_label):
                clip = ravdess.Clip(3, 1, emotion, 1, 1 + n % 2, 1 + n // 2 % 2, speaker)
                paths.append(os.path.join(folder, f"clip_{n}.wav"))
                write_wav(paths[-1], render_audio(clip, duration, seed=seed + n), SAMPLE_RATE)
    return paths
