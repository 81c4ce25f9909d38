"""CREMA-D (Cao et al. 2014): 7,442 clips of 91 actors (1001-1091), 12 sentences, 6 emotions,
in its official layout (`AudioWAV/*.wav`, `VideoFlash/*.flv`) or any folder of its files.

A file name is ACTOR_SENTENCE_EMOTION_LEVEL, e.g. ``1001_DFA_ANG_XX.wav``. CREMA-D has no
calm and no surprised: its clips teach nothing about those two.
"""

from __future__ import annotations

import os
import re

from emorec.corpora import base

EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
LEVELS = ("LO", "MD", "HI", "XX")
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def parse(name: str) -> tuple[str, str, str, str]:
    """(actor, sentence code, emotion, level) of a CREMA-D file name; CorpusError naming the
    file and the field that is wrong."""
    stem = os.path.splitext(os.path.basename(name))[0]
    match = _NAME.match(stem)
    if not match:
        raise base.CorpusError(f"{name!r}: expected ACTOR_SENTENCE_EMOTION_LEVEL, e.g. 1001_DFA_ANG_XX")
    actor, sentence, emotion, level = match.groups()
    for field, value, allowed in (
        ("sentence", sentence, SENTENCES),
        ("emotion", emotion, EMOTIONS),
        ("level", level, LEVELS),
    ):
        if value not in allowed:
            raise base.CorpusError(f"{name!r}: field {field} is {value}, expected one of {', '.join(allowed)}")
    return actor, sentence, EMOTIONS[emotion], level


class CremaD(base.Corpus):
    """CREMA-D's wavs (`modality='audio'`) or its flv videos with their sound ('audio-video')."""

    name = "cremad"
    classes = base.ordered(EMOTIONS.values())

    def __init__(self, root: str, modality: str = "audio"):
        super().__init__(root)
        if modality not in ("audio", "audio-video"):
            raise base.CorpusError(f"cremad: modality is 'audio' or 'audio-video', not {modality!r}")
        self.modality = modality

    def scan(self) -> base.Scan:
        wanted = (".wav",) if self.modality == "audio" else (".flv", ".mp4")
        clips, skipped, seen = [], [], {}
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            dirnames.sort()
            for filename in sorted(filenames):
                path = os.path.join(dirpath, filename)
                if os.path.splitext(filename)[1].lower() not in wanted:
                    continue
                try:
                    actor, sentence, emotion, _ = parse(filename)
                except base.CorpusError as e:
                    skipped.append((path, f"unparsable name: {e}"))
                    continue
                stem = os.path.splitext(filename)[0]
                if stem in seen:
                    skipped.append((path, f"duplicate: same clip as {seen[stem]}"))
                    continue
                seen[stem] = path
                clips.append(
                    base.Clip(
                        self.name, stem, actor, emotion, path, sentence=SENTENCES[sentence], modality=self.modality
                    )
                )
        return base.Scan(clips, skipped)
