"""Audio: any file ffmpeg reads -> float32 mono waveform at 16 kHz."""
from __future__ import annotations

import subprocess

import numpy as np

from emorec.media.features import SAMPLE_RATE
from emorec.media.video import MediaError, probe, require_ffmpeg


def load_audio(path: str, sample_rate: int = SAMPLE_RATE, info: dict | None = None) -> np.ndarray:
    """Decodes the first audio stream, downmixes to mono and resamples (ffmpeg's resampler).

    Raises MediaError('no audio stream') for a file without one, e.g. an audio-video clip
    whose audio was lost in re-encoding.
    """
    require_ffmpeg()
    info = info or probe(path)
    if info["audio"] is None:
        raise MediaError("no audio stream", f"{path} has no audio stream")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:a:0", "-ac", "1",
           "-ar", str(sample_rate), "-f", "f32le", "-"]
    result = subprocess.run(cmd, capture_output=True)
    if result.returncode:
        raise MediaError("undecodable", result.stderr.decode(errors="replace").strip().splitlines()[-1])
    waveform = np.frombuffer(result.stdout, np.float32)
    if waveform.size == 0:
        raise MediaError("no audio stream", f"{path}: the audio stream is empty")
    return waveform.copy()
