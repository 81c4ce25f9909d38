r"""A user's own labelled clips as a TFDS dataset, in RAVDESS's example format: 16 kHz audio and
log-mel (and face crops for `av`) per clip, one split per speaker.

    tfds build datasets/labelled_folder --config=audio --manual_dir=/data/my_clips --data_dir=DIR  # RAVDESS's 8
    tfds build datasets/labelled_folder --manual_dir=/data/my_clips --data_dir=DIR \
        --config='{"name": "my_clips", "labels": ["neutral", "happy", "sad", "angry", "bored"], "with_faces": false}'

The folder is `EMOTION/FILE` or `EMOTION/SPEAKER/FILE`, or holds a `labels.csv` of
`path,speaker,emotion` (`emorec.corpora.LabelledFolder`). Labels that name one of RAVDESS's
emotions (`anger`, `ANG`, ...) are stored in its names. The configs `audio` and `av` label with
RAVDESS's eight (without --config, `tfds build` builds both, and `av` reads video files only);
any other label set is a config given as JSON, as above (TFDS makes it), whose
`labels` fix the classes' order. A folder with a label the config lacks is refused in one line
that gives the config to pass.

Speakers are numbered in name order from 1 (`actor`, split `actor_K`); `speaker` holds the
name the folder gave. Clips of no named speaker are `actor_0`.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import tensorflow_datasets as tfds

from emorec import building, corpora

CSV_NAME = "labels.csv"
UNKNOWN_ACTOR = 0


@dataclasses.dataclass
class FolderConfig(building.CorpusConfig):
    labels: tuple[str, ...] = corpora.EMOTIONS


class Builder(building.CorpusBuilder):
    """A labelled folder or CSV of the user's own clips."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "16 kHz audio and log-mel, face crops for av; one split per speaker."}
    BUILDER_CONFIGS = [
        FolderConfig(
            name="audio",
            with_faces=False,
            with_audio=True,
            description="16 kHz waveform and log-mel of every clip (audio or video files).",
        ),
        FolderConfig(
            name="av",
            with_faces=True,
            with_audio=True,
            description="Face crops, 16 kHz waveform and log-mel of the video clips.",
        ),
    ]
    DEFAULT_CONFIG_NAME = "audio"
    TITLE = "labelled folder"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Pass the folder of your clips as --manual_dir: EMOTION/FILE or EMOTION/SPEAKER/FILE
    (angry/alice/take1.wav), or a folder holding labels.csv with the columns path,speaker,emotion.
    """

    def _labels(self) -> tuple[str, ...]:
        return tuple(self.builder_config.labels)

    def _clip_features(self) -> dict:
        return {"speaker": tfds.features.Text(doc="the speaker as the folder names it ('' if not given)")}

    def _clip_fields(self, clip: corpora.Clip) -> dict:
        return {"actor": np.int32(self._actor(clip.speaker)), "speaker": clip.speaker}

    def _split(self, speaker: str) -> str:
        return f"actor_{self._actor(speaker)}"

    def _actor(self, speaker: str) -> int:
        return self._speakers.index(speaker) + 1 if speaker else UNKNOWN_ACTOR

    def _scan(self, root: str) -> corpora.Scan:
        csv = os.path.join(root, CSV_NAME)
        folder = corpora.LabelledFolder(csv if os.path.isfile(csv) else root, name=self.builder_config.name)
        scan, found = folder.scan(), folder.classes
        unknown = [label for label in found if label not in self._labels()]
        if unknown:
            config = json.dumps(
                {
                    "name": os.path.basename(os.path.normpath(root)),
                    "labels": list(found),
                    "with_faces": self.builder_config.with_faces,
                }
            )
            raise building.BuildError(
                f"{root} has clips labelled {', '.join(unknown)}, which config "
                f"{self.builder_config.name!r} has no class for: pass --config='{config}'"
            )
        clips, skipped = [], list(scan.skipped)
        for clip in scan.clips:
            if self.builder_config.with_faces and clip.modality == "audio":
                skipped.append(
                    (clip.location, "no video: a config with faces reads video files (the audio config reads these)")
                )
            else:
                clips.append(clip)
        scan = corpora.Scan(clips, skipped)
        self._speakers = scan.speakers()
        return scan
