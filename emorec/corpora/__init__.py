"""Emotion corpora behind one interface (`base.Corpus`): RAVDESS, CREMA-D and a user's own
labelled folder or CSV. `open_corpus("cremad:/data/cremad")` opens one from its command-line
form, `KIND:PATH`."""

from __future__ import annotations

from emorec import ravdess as ravdess_names
from emorec.corpora import cremad
from emorec.corpora.base import EMOTIONS, Clip, Corpus, CorpusError, Fold, Scan, folds, ordered
from emorec.corpora.cremad import CremaD
from emorec.corpora.folder import LabelledFolder
from emorec.corpora.ravdess import Ravdess

KINDS = {"ravdess": Ravdess, "cremad": CremaD, "folder": LabelledFolder}

__all__ = [
    "EMOTIONS",
    "Clip",
    "Corpus",
    "CorpusError",
    "Fold",
    "Scan",
    "actor_of",
    "folds",
    "ordered",
    "open_corpus",
    "KINDS",
]


def actor_of(name: str) -> int:
    """The actor in a RAVDESS or CREMA-D clip's file name: what a built dataset splits by."""
    try:
        return ravdess_names.parse(name).actor
    except ravdess_names.RavdessNameError:
        try:
            return int(cremad.parse(name)[0])
        except CorpusError:
            raise CorpusError(f"{name!r} is neither a RAVDESS nor a CREMA-D file name: no actor in it") from None


def open_corpus(spec: str) -> Corpus:
    """`KIND:PATH` (ravdess, cremad, folder) -> the corpus; a bare path is a labelled folder or CSV."""
    kind, colon, path = spec.partition(":")
    if not colon or kind not in KINDS:
        if colon and len(kind) > 1 and not kind.startswith(("/", ".", "~")):
            raise CorpusError(f"{spec!r}: corpus kinds are {', '.join(KINDS)} (KIND:PATH), or a folder's path")
        kind, path = "folder", spec
    return KINDS[kind](path)
