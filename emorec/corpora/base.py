"""What every corpus gives the rest of emorec: its clips, each with a speaker and an emotion
named in RAVDESS's emotion names where one maps, the clips it passed over with the reason, and
the classes its label set has.

A corpus teaches only the classes it has: CREMA-D has no calm and no surprised, so a CREMA-D
clip says nothing about those two (`Corpus.classes` is what a trainer masks with).
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import os
from typing import NamedTuple

from emorec import ravdess
from emorec.errors import UserValueError

# The names every corpus maps its labels onto (RAVDESS's eight); a user's own label that maps
# to none keeps its own name.
EMOTIONS = ravdess.EMOTIONS


class CorpusError(UserValueError):
    """A corpus that cannot be read as asked: names the folder or file and what to do."""


@dataclasses.dataclass(frozen=True)
class Clip:
    """One labelled recording of a corpus."""

    corpus: str
    id: str  # unique within the corpus: the file's stem
    speaker: str
    emotion: str  # in `EMOTIONS` where it maps
    path: str
    member: str | None = None  # a member of the zip at `path`, read in place
    sentence: str | None = None
    modality: str = "audio"  # "audio", "video" or "audio-video"

    @property
    def speaker_key(self) -> str:
        """The speaker, unique across corpora. A clip whose speaker is not known is a speaker of
        its own, named by a hash of its id so that folds of such clips mix the label folders."""
        if not self.speaker:
            return f"{self.corpus}/unknown-{hashlib.sha1(self.id.encode()).hexdigest()[:12]}"
        return f"{self.corpus}/{self.speaker}"

    @property
    def key(self) -> str:
        """The clip, unique across corpora: what a feature cache and a study key it by."""
        return f"{self.corpus}/{self.id}"

    @property
    def source(self) -> ravdess.Source:
        """Where its bytes are: a file, or a zip member read in place."""
        return ravdess.Source(self.path, self.member, None)

    @property
    def location(self) -> str:
        return self.source.location

    @property
    def file_name(self) -> str:
        """Its name within the corpus, unique there: the id with the file's extension (a RAVDESS or
        CREMA-D file's own name; a labelled folder's path in it)."""
        return self.id + os.path.splitext(self.member or self.path)[1]

    @property
    def extension(self) -> str:
        return self.source.extension

    def open(self):
        return self.source.open()


class Scan(NamedTuple):
    """A corpus's clips, and every file passed over with its reason."""

    clips: list[Clip]
    skipped: list[tuple[str, str]]

    def speakers(self) -> list[str]:
        """The speakers named (a clip of unknown speaker names none)."""
        return sorted({clip.speaker for clip in self.clips if clip.speaker})


class Corpus(abc.ABC):
    """A labelled set of recordings under one folder."""

    name: str
    classes: tuple[str, ...]  # its label set, in the order of `EMOTIONS` then its own

    def __init__(self, root: str):
        if not os.path.isdir(root) and not os.path.isfile(root):
            raise CorpusError(f"{self.name}: {root} does not exist")
        self.root = root

    @abc.abstractmethod
    def scan(self) -> Scan:
        """Every clip under the root, and every file passed over with its reason."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r})"


def ordered(labels) -> tuple[str, ...]:
    """Labels in `EMOTIONS`' order, then any others alphabetically."""
    labels = set(labels)
    return tuple(e for e in EMOTIONS if e in labels) + tuple(sorted(labels - set(EMOTIONS)))


# Speaker-independent folds of consecutive speakers, for any corpus: RAVDESS's own rule
# (speakers sort as numbers or names alike).
Fold, folds = ravdess.Fold, ravdess.folds
