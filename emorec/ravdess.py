"""RAVDESS: the file-name grammar, labels, clip discovery and actor-independent folds.

A RAVDESS file name has seven two-digit fields, e.g. ``01-01-06-01-02-01-12.mp4``:
modality - vocal channel - emotion - intensity - statement - repetition - actor
(Livingstone & Russo 2018). Everything else in emorec names clips through `Clip`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from typing import NamedTuple, Sequence

from emorec.errors import UserError, UserValueError

EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
# The reference study's 7 classes: RAVDESS without neutral.
EMOTIONS_7 = EMOTIONS[1:]
MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
VOCAL_CHANNELS = {1: "speech", 2: "song"}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
REPETITIONS = {1: "1st", 2: "2nd"}
ACTORS = tuple(range(1, 25))
# Song was recorded for six emotions only.
SONG_EMOTIONS = frozenset(range(1, 7))

MEDIA_EXTENSIONS = (".mp4", ".wav")
_ZIP_NAME = re.compile(r"^(Video_(Speech|Song)_Actor_\d\d|Audio_(Speech|Song)_Actors_01-24)\.zip$")


class RavdessNameError(UserValueError):
    """A file name that does not follow the RAVDESS grammar; says which file and field."""


@dataclasses.dataclass(frozen=True, order=True)
class Clip:
    """The seven fields of a RAVDESS file name, as integers (codes, not names)."""

    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def emotion_name(self) -> str:
        return EMOTIONS[self.emotion - 1]

    @property
    def gender(self) -> str:
        return gender(self.actor)

    def label(self, num_classes: int = 8) -> int | None:
        """Class index for an 8- or 7-class problem; None for neutral in the 7-class one."""
        return label(self.emotion, num_classes)

    def name(self, extension: str = "") -> str:
        return format_name(self, extension)


_FIELDS = [
    ("modality", MODALITIES),
    ("vocal channel", VOCAL_CHANNELS),
    ("emotion", dict(enumerate(EMOTIONS, start=1))),
    ("intensity", INTENSITIES),
    ("statement", STATEMENTS),
    ("repetition", REPETITIONS),
    ("actor", dict.fromkeys(ACTORS)),
]


def parse(name: str) -> Clip:
    """Parses a RAVDESS file name (a bare name or a path, with or without extension).

    Raises RavdessNameError naming the file and the field that is wrong.
    """
    base = os.path.basename(str(name))
    stem = base.split(".", 1)[0]
    parts = stem.split("-")
    if len(parts) != 7:
        raise RavdessNameError(
            f"{name!r}: expected 7 two-digit fields joined by '-' "
            f"(e.g. 01-01-06-01-02-01-12.mp4), found {len(parts)} field(s)"
        )
    values = []
    for part, (field, allowed) in zip(parts, _FIELDS):
        if not re.fullmatch(r"\d\d", part):
            raise RavdessNameError(f"{name!r}: field {field} is {part!r}, not two digits")
        value = int(part)
        if value not in allowed:
            raise RavdessNameError(
                f"{name!r}: field {field} is {part}, expected one of {', '.join(f'{v:02d}' for v in allowed)}"
            )
        values.append(value)
    clip = Clip(*values)
    if clip.emotion == 1 and clip.intensity == 2:
        raise RavdessNameError(f"{name!r}: field intensity is 02 (strong), which neutral does not have")
    if clip.vocal_channel == 2 and clip.emotion not in SONG_EMOTIONS:
        raise RavdessNameError(
            f"{name!r}: field emotion is {clip.emotion:02d} ({clip.emotion_name}), "
            "which the song recordings do not have"
        )
    return clip


def format_name(clip: Clip, extension: str = "") -> str:
    """The inverse of `parse`: ``format_name(parse(n), '.mp4') == n`` for any valid name."""
    fields = dataclasses.astuple(clip)
    return "-".join(f"{v:02d}" for v in fields) + extension


def gender(actor: int) -> str:
    """RAVDESS actors with odd numbers are male, even numbers female."""
    if actor not in ACTORS:
        raise ValueError(f"actor {actor} is not a RAVDESS actor (1-24)")
    return "male" if actor % 2 else "female"


def class_names(num_classes: int = 8) -> tuple[str, ...]:
    if num_classes == 8:
        return EMOTIONS
    if num_classes == 7:
        return EMOTIONS_7
    raise ValueError(f"num_classes must be 8 (all emotions) or 7 (without neutral), got {num_classes}")


def label(emotion: int, num_classes: int = 8) -> int | None:
    """Emotion code (1-8) to class index; None where the class set leaves it out."""
    names = class_names(num_classes)
    name = EMOTIONS[emotion - 1]
    return names.index(name) if name in names else None


class Source(NamedTuple):
    """Where a clip's bytes are: a file, or a member of a zip read in place."""

    path: str
    member: str | None
    clip: Clip

    @property
    def location(self) -> str:
        return f"{self.path}!{self.member}" if self.member else self.path

    @property
    def extension(self) -> str:
        return os.path.splitext(self.member or self.path)[1].lower()

    def open(self):
        """A binary file object for the clip; zip members are streamed, never unpacked."""
        if self.member is None:
            return open(self.path, "rb")
        archive = zipfile.ZipFile(self.path)
        handle = archive.open(self.member)
        handle._archive = archive  # keeps the zip open as long as the member is read
        return handle

    def read(self) -> bytes:
        with self.open() as f:
            return f.read()


class Scan(NamedTuple):
    """Clips found under a folder, and every file passed over with its reason, written
    'kind: detail' (kinds: unparsable name, unreadable zip, duplicate)."""

    sources: list[Source]
    skipped: list[tuple[str, str]]


def _is_media(name: str) -> bool:
    # "._" files are macOS resource forks that some re-packed zips carry.
    base = os.path.basename(name)
    return os.path.splitext(base)[1].lower() in MEDIA_EXTENSIONS and not base.startswith("._")


def scan(root: str, modalities: Sequence[int] = (1, 2, 3), vocal_channels: Sequence[int] = (1, 2)) -> Scan:
    """Finds RAVDESS clips under `root` in the Zenodo layouts.

    Reads media files at any depth (the `Actor_XX/` folders) and the downloaded zips
    (`Video_Speech_Actor_XX.zip`, `Video_Song_Actor_XX.zip`, `Audio_Speech_Actors_01-24.zip`,
    `Audio_Song_Actors_01-24.zip`) in place. Media files whose names do not parse, corrupt
    zips, clips found twice and links that loop are listed in `skipped` with the reason, never
    dropped silently. Linked folders are followed.
    Clips of other modalities or vocal channels are left out by request, not reported.
    """
    if not os.path.isdir(root):
        raise UserError(f"RAVDESS folder {root!r} does not exist")
    found: dict[Clip, Source] = {}
    skipped: list[tuple[str, str]] = []

    def add(path: str, member: str | None, name: str):
        location = f"{path}!{member}" if member else path
        try:
            clip = parse(name)
        except RavdessNameError as e:
            skipped.append((location, f"unparsable name: {e}"))
            return
        if clip.modality not in modalities or clip.vocal_channel not in vocal_channels:
            return
        if clip in found:
            skipped.append((location, f"duplicate: same clip as {found[clip].location}"))
            return
        found[clip] = Source(path, member, clip)

    # Linked folders are followed (an Actor_XX linked to where the clips are); a link back to
    # a folder already read is a loop, said and not followed.
    seen = {os.path.realpath(root)}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        for name in list(dirnames):
            real = os.path.realpath(os.path.join(dirpath, name))
            if real in seen:
                skipped.append((os.path.join(dirpath, name), f"link loop: leads back to {real}, read already"))
                dirnames.remove(name)
            seen.add(real)
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            if filename.lower().endswith(".zip") and _ZIP_NAME.match(filename):
                try:
                    with zipfile.ZipFile(path) as archive:
                        members = sorted(filter(_is_media, archive.namelist()))
                except (zipfile.BadZipFile, OSError) as e:
                    skipped.append((path, f"unreadable zip: {e}"))
                    continue
                for member in members:
                    add(path, member, os.path.basename(member))
            elif _is_media(filename):
                add(path, None, filename)
    return Scan(sorted(found.values(), key=lambda s: s.clip), skipped)


class Fold(NamedTuple):
    number: int  # 1-based, as in "fold k tests actors 4k-3..4k"
    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]


def folds(num_folds: int = 6, actors: Sequence[int] = ACTORS) -> list[Fold]:
    """Actor-independent folds of consecutive actors.

    Fold k tests the k-th group of consecutive actors, validates on the next group
    (the last fold wraps round to the first) and trains on the rest. With the default
    24 actors and 6 folds, fold k tests actors 4k-3..4k. `num_folds=len(actors)` is
    leave-one-actor-out.
    """
    actors = sorted(set(actors))
    if not 3 <= num_folds <= len(actors):
        raise UserValueError(
            f"num_folds must be between 3 and the number of actors ({len(actors)}), "
            f"got {num_folds}: each fold needs test, validation and training actors"
        )
    size, extra = divmod(len(actors), num_folds)
    groups, start = [], 0
    for k in range(num_folds):
        end = start + size + (k < extra)
        groups.append(tuple(actors[start:end]))
        start = end
    result = []
    for k in range(num_folds):
        test, validation = groups[k], groups[(k + 1) % num_folds]
        train = tuple(a for a in actors if a not in test and a not in validation)
        result.append(Fold(k + 1, train, validation, test))
    return result


def leave_one_actor_out(actors: Sequence[int] = ACTORS) -> list[Fold]:
    """Each actor tested once, validated on the next actor, trained on the rest."""
    return folds(len(set(actors)), actors)
