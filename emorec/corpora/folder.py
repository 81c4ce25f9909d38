"""A user's own labelled recordings: a folder `EMOTION/FILE` (or `EMOTION/SPEAKER/FILE`), or a
CSV of `path,speaker,emotion` (paths relative to the CSV; `speaker` may be empty).

Labels are the user's: any set, in any language. Those that name one of RAVDESS's emotions
(`angry`, `anger`, `ANG`, ...) are written in its names, so the user's clips and the shipped
corpora agree on what a class is; the others keep their own names.
"""

from __future__ import annotations

import csv
import os

from emorec.corpora import base
from emorec.media import video

ALIASES = {
    "neutral": ("neutral", "neu", "neutrality", "no emotion", "none"),
    "calm": ("calm", "cal"),
    "happy": ("happy", "hap", "happiness", "joy", "happiness/joy", "glad"),
    "sad": ("sad", "sadness", "sorrow"),
    "angry": ("angry", "ang", "anger", "mad"),
    "fearful": ("fearful", "fea", "fear", "afraid", "scared"),
    "disgust": ("disgust", "dis", "disgusted", "disgusting"),
    "surprised": ("surprised", "sur", "surprise", "sup", "ps", "pleasant surprise"),
}
_CANONICAL = {alias: emotion for emotion, aliases in ALIASES.items() for alias in aliases}
MEDIA_EXTENSIONS = video.AUDIO_EXTENSIONS + video.VIDEO_EXTENSIONS
UNKNOWN_SPEAKER = ""  # a clip whose speaker was not given


def canonical(label: str) -> str:
    """The RAVDESS name of a label where one maps, else the label itself, trimmed."""
    label = label.strip()
    return _CANONICAL.get(label.lower(), label)


def modality(path: str) -> str:
    return "audio" if os.path.splitext(path)[1].lower() in video.AUDIO_EXTENSIONS else "audio-video"


class LabelledFolder(base.Corpus):
    """A folder of EMOTION/ sub-folders, or a CSV file (see the module doc)."""

    def __init__(self, root: str, name: str | None = None):
        self.name = name or os.path.splitext(os.path.basename(os.path.normpath(root)))[0] or "folder"
        super().__init__(root)
        self._scan = None

    @property
    def classes(self) -> tuple[str, ...]:
        return base.ordered({clip.emotion for clip in self.scan().clips})

    def scan(self) -> base.Scan:
        if self._scan is None:
            self._scan = self._from_csv() if os.path.isfile(self.root) else self._from_folders()
        return self._scan

    def _clip(self, path: str, speaker: str, label: str) -> base.Clip:
        stem = os.path.splitext(os.path.relpath(path, self._base))[0].replace(os.sep, "/")
        return base.Clip(self.name, stem, speaker, canonical(label), path, modality=modality(path))

    @property
    def _base(self) -> str:
        return os.path.dirname(os.path.abspath(self.root)) if os.path.isfile(self.root) else self.root

    def _from_folders(self) -> base.Scan:
        clips, skipped = [], []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            dirnames.sort()
            parts = os.path.relpath(dirpath, self.root).split(os.sep)
            for filename in sorted(filenames):
                path = os.path.join(dirpath, filename)
                if os.path.splitext(filename)[1].lower() not in MEDIA_EXTENSIONS:
                    skipped.append((path, f"not audio or video: reads {', '.join(MEDIA_EXTENSIONS)}"))
                elif parts == ["."]:
                    skipped.append((path, "not in an emotion folder: put it in EMOTION/ (e.g. angry/)"))
                elif len(parts) > 2:
                    skipped.append((path, "too deep: the layout is EMOTION/FILE or EMOTION/SPEAKER/FILE"))
                else:
                    clips.append(self._clip(path, parts[1] if len(parts) == 2 else UNKNOWN_SPEAKER, parts[0]))
        if not clips and not skipped:
            raise base.CorpusError(f"{self.root} holds no files: the layout is EMOTION/FILE (e.g. angry/clip.wav)")
        return base.Scan(clips, skipped)

    def _from_csv(self) -> base.Scan:
        clips, skipped, listed = [], [], {}
        try:
            with open(self.root, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.DictReader(f))
        except UnicodeDecodeError as e:
            line = e.object[: e.start].count(b"\n") + 1
            raise base.CorpusError(
                f"{self.root}:{line}: not UTF-8 text (byte 0x{e.object[e.start]:02x}): save the CSV as UTF-8"
            ) from None
        if not rows or not {"path", "emotion"} <= set(rows[0]):
            raise base.CorpusError(
                f"{self.root}: expected a header with path, emotion (and speaker) columns, found "
                f"{sorted(rows[0]) if rows else 'no rows'}"
            )
        for number, row in enumerate(rows, start=2):
            path = os.path.join(self._base, row["path"] or "")
            where = f"{self.root}:{number}"
            if not row["path"] or not (row["emotion"] or "").strip():
                skipped.append((where, "empty path or emotion"))
            elif not os.path.isfile(path):
                skipped.append((where, f"no such file: {path}"))
            elif os.path.splitext(path)[1].lower() not in MEDIA_EXTENSIONS:
                skipped.append((where, f"not audio or video: {path}"))
            elif (real := os.path.realpath(path)) in listed:
                first, emotion = listed[real]
                skipped.append((where, f"{path} is listed before, at line {first} (as {emotion}): each clip once"))
            else:
                listed[real] = number, row["emotion"].strip()
                clips.append(self._clip(path, (row.get("speaker") or UNKNOWN_SPEAKER).strip(), row["emotion"]))
        return base.Scan(clips, skipped)
