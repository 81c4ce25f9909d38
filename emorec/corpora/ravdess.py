"""RAVDESS behind the corpus interface: its file-name grammar (`emorec.ravdess`) read as clips."""

from __future__ import annotations

from emorec import ravdess
from emorec.corpora import base

MODALITIES = {1: "audio-video", 2: "video", 3: "audio"}


class Ravdess(base.Corpus):
    """RAVDESS (Livingstone & Russo 2018): 24 actors, 8 emotions, two sentences; the Zenodo
    zips or `Actor_XX/` folders. `modalities`: RAVDESS's codes (3 audio-only, 1 audio-video,
    2 video-only); `vocal_channels`: 1 speech, 2 song."""

    name = "ravdess"
    classes = ravdess.EMOTIONS

    def __init__(self, root: str, modalities=(3,), vocal_channels=(1,)):
        super().__init__(root)
        self.modalities, self.vocal_channels = tuple(modalities), tuple(vocal_channels)

    def scan(self) -> base.Scan:
        found = ravdess.scan(self.root, self.modalities, self.vocal_channels)
        return base.Scan([self.clip(source) for source in found.sources], found.skipped)

    @staticmethod
    def clip(source: ravdess.Source) -> base.Clip:
        c = source.clip
        return base.Clip(
            "ravdess",
            c.name(),
            f"{c.actor:02d}",
            c.emotion_name,
            source.path,
            source.member,
            sentence=ravdess.STATEMENTS[c.statement],
            modality=MODALITIES[c.modality],
        )
