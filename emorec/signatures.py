"""What an exported model's signatures promise, for the code that writes them (`emorec.export`),
the code that calls them (`emorec.serving`) and the code that cuts a speaker's audio for them
(`emorec.enrolment`, which training shares): their names, what each input holds, and the most
windows one request may hold. A module of its own so that training needs nothing of serving.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

SIGNATURE = "serving_default"
SPEAKER_FEATURES = "speaker_features"  # speaker-normalised exports: the enrolment signature

# What each input holds, for the checks of a request (and the exported graph's own) and their
# messages. emorec's decoding clips a lossy decoder's overshoot to full scale (`video.decode`).
RANGES = {
    "faces": (0, 255, "uint8 RGB, 0-255"),
    "waveform": (-1.0, 1.0, "float32 16 kHz samples in [-1, 1]"),
    "speaker_windows": (0.0, np.inf, "how many windows of the speaker were heard, 0 or more"),
}
# speaker_stats' second row holds standard deviations, which the model divides by: negative
# ones flip the features, zeros divide by zero; zeros throughout are a speaker not heard yet, for a
# model with a prior (`speaker_windows` 0), which then reads nothing of them.
SPEAKER_DEVIATIONS = (
    "speaker_stats: expected the mean and standard deviation of each feature of the speaker, the "
    "deviations (speaker_stats[:, 1]) positive"
)
NOT_HEARD = " (a speaker not heard yet: zeros, with speaker_windows 0)"
# The most windows one request may hold: a bound on a request's memory (4,096 windows of
# faces took more than 8 GB); the export's metadata states it, its graph enforces it.
MAX_BATCH = 64


class InputSpec(NamedTuple):
    """One input of a signature: its shape (None where any size goes; the batch first) and dtype."""

    shape: tuple[int | None, ...]
    dtype: np.dtype


def shape_text(shape) -> str:
    """A declared shape as the messages say it: [batch, 4, 112, 112, 3]."""
    return "[" + ", ".join("batch" if i == 0 else "any" if d is None else str(d) for i, d in enumerate(shape)) + "]"
