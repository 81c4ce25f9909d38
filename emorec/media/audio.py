"""Audio: any file ffmpeg reads -> float32 mono waveform at 16 kHz."""

from __future__ import annotations

import numpy as np

from emorec.media.features import SAMPLE_RATE
from emorec.media.video import MediaError, decode


def load_audio(path: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decodes the first audio stream, downmixes to mono and resamples (ffmpeg's resampler).

    Raises MediaError('no audio stream') for a file without one, e.g. an audio-video clip
    whose audio was lost in re-encoding.
    """
    waveform = decode(path, with_video=False, sample_rate=sample_rate)["waveform"]
    if waveform.size == 0:
        raise MediaError("no audio stream", f"{path}: the audio stream is empty")
    return waveform
