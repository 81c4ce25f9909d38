r"""RAVDESS as a TFDS dataset: face crops, 16 kHz audio and log-mel per clip, one split per actor.

    tfds build datasets/ravdess --config=av --manual_dir=/path/to/ravdess --data_dir=DIR
    tfds build datasets/ravdess --config=av ... \
        --beam_pipeline_options="runner=DirectRunner,direct_num_workers=2,direct_running_mode=multi_processing"

Every clip that cannot be used (undecodable, no audio stream, no face, corrupt zip member,
unparsable name, duplicate) is reported by name with its reason in a summary printed at the
end and saved as `build_summary.json` next to the data (`emorec.building`, which every
corpus's builder shares). EMOREC_STRICT=1 makes any of them an error instead.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from emorec import building, corpora, ravdess
from emorec.building import SUMMARY_FILE, BuildError, format_summary  # noqa: F401  (the builder's own names)

_CITATION = """@article{livingstone2018ravdess,
  title={The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS)},
  author={Livingstone, Steven R. and Russo, Frank A.},
  journal={PLoS ONE}, volume={13}, number={5}, pages={e0196391}, year={2018}}"""


@dataclasses.dataclass
class RavdessConfig(building.CorpusConfig):
    vocal_channel: int = 1  # 1 speech, 2 song


def _configs():
    kinds = {
        "av": (True, True, "face crops, 16 kHz waveform and log-mel of the audio-video clips"),
        "audio": (
            False,
            True,
            "16 kHz waveform and log-mel of the audio-only wavs "
            "(or of the audio-video clips' audio when no wavs are given)",
        ),
        "video": (True, False, "face crops of the audio-video and video-only clips"),
    }
    for channel, suffix in ((1, ""), (2, "_song")):
        for kind, (faces, audio, text) in kinds.items():
            yield RavdessConfig(
                name=kind + suffix,
                with_faces=faces,
                with_audio=audio,
                vocal_channel=channel,
                description=f"{ravdess.VOCAL_CHANNELS[channel].capitalize()}: {text}.",
            )


class Builder(building.CorpusBuilder):
    """RAVDESS (Livingstone & Russo 2018): 24 actors, 8 emotions, speech and song."""

    VERSION = tfds.core.Version("1.3.0")
    RELEASE_NOTES = {
        "1.0.0": "Face crops, 16 kHz audio and log-mel; one split per actor.",
        "1.1.0": "Face crops 0.9 times the detector's box (was 1.3): the face, not the head; "
        "the face pipeline's settings in the metadata.",
        "1.2.0": "Faces found by BlazeFace (MediaPipe's short-range model), not OpenCV's Haar cascade.",
        "1.3.0": "Frames scaled in YUV, then converted to RGB: crop pixels within 2/255 of 1.2.0's "
        "on average; waveforms and log-mels unchanged.",
    }
    BUILDER_CONFIGS = list(_configs())
    DEFAULT_CONFIG_NAME = "av"
    TITLE = "RAVDESS"
    HOMEPAGE, CITATION, LICENSE = "https://zenodo.org/record/1188976", _CITATION, "CC BY-NC-SA 4.0"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download RAVDESS from Zenodo (https://zenodo.org/record/1188976, CC BY-NC-SA 4.0) and put
    the files in the manual folder (--manual_dir) as they come; zips are read in place,
    unpacked `Actor_XX/` folders work too:
      Video_Speech_Actor_01.zip ... Video_Speech_Actor_24.zip   (configs av, video)
      Video_Song_Actor_01.zip ... Video_Song_Actor_24.zip       (av_song, video_song)
      Audio_Speech_Actors_01-24.zip                             (audio)
      Audio_Song_Actors_01-24.zip                               (audio_song)
    Only the files of the configs you build are needed.
    """

    def _clip_features(self) -> dict:
        return {
            "modality": tfds.features.ClassLabel(names=list(ravdess.MODALITIES.values())),
            "vocal_channel": tfds.features.ClassLabel(names=list(ravdess.VOCAL_CHANNELS.values())),
            "intensity": tfds.features.ClassLabel(names=list(ravdess.INTENSITIES.values())),
            "statement": np.int32,
            "repetition": np.int32,
            "gender": tfds.features.ClassLabel(names=["male", "female"]),
        }

    def _clip_fields(self, clip: corpora.Clip) -> dict:
        c = ravdess.parse(clip.id)
        # Codes (1-based) to the ClassLabel indices.
        return {
            "actor": c.actor,
            "modality": c.modality - 1,
            "vocal_channel": c.vocal_channel - 1,
            "intensity": c.intensity - 1,
            "statement": c.statement,
            "repetition": c.repetition,
            "gender": c.gender,
        }

    def _scan(self, root: str) -> corpora.Scan:
        config = self.builder_config
        if config.with_faces:
            return corpora.Ravdess(root, (1,) if config.with_audio else (1, 2), (config.vocal_channel,)).scan()
        scan = corpora.Ravdess(root, (3,), (config.vocal_channel,)).scan()
        # no wavs: take the audio of the audio-video clips
        return scan if scan.clips else corpora.Ravdess(root, (1,), (config.vocal_channel,)).scan()

    def _source_files(self, root: str) -> corpora.Scan:
        # Every RAVDESS file in the folder, whatever the config reads: a build records them all.
        return corpora.Ravdess(root, (1, 2, 3), (1, 2)).scan()
