"""CREMA-D as a TFDS dataset, in RAVDESS's example format: 16 kHz audio and log-mel (and face
crops for `av`) per clip, one split per actor (`actor_1001` ... `actor_1091`).

    tfds build datasets/cremad --config=audio --manual_dir=/path/to/CREMA-D --data_dir=DIR

Labels are RAVDESS's eight emotion names; CREMA-D has six of them (no calm, no surprised).
Every clip that cannot be used is named with its reason in `build_summary.json`
(`emorec.building`).
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from emorec import building, corpora
from emorec.corpora import cremad

_CITATION = """@article{cao2014cremad,
  title={CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset},
  author={Cao, Houwei and Cooper, David G. and Keutmann, Michael K. and Gur, Ruben C. and Nenkova, Ani and \
Verma, Ragini},
  journal={IEEE Transactions on Affective Computing}, volume={5}, number={4}, pages={377--390}, year={2014}}"""


class Builder(building.CorpusBuilder):
    """CREMA-D (Cao et al. 2014): 7,442 clips of 91 actors, 12 sentences, 6 emotions."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "16 kHz audio and log-mel, face crops for av; one split per actor."}
    BUILDER_CONFIGS = [
        building.CorpusConfig(
            name="audio",
            with_faces=False,
            with_audio=True,
            description="16 kHz waveform and log-mel of the AudioWAV clips.",
        ),
        building.CorpusConfig(
            name="av",
            with_faces=True,
            with_audio=True,
            description="Face crops, 16 kHz waveform and log-mel of the VideoFlash clips.",
        ),
    ]
    DEFAULT_CONFIG_NAME = "audio"
    TITLE = "CREMA-D"
    HOMEPAGE, CITATION = "https://github.com/CheyneyComputerScience/CREMA-D", _CITATION
    LICENSE = "Open Database License 1.0; contents under the Database Contents License 1.0"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Put CREMA-D's files in the manual folder (--manual_dir) in its official layout, as the
    repository holds them: AudioWAV/*.wav (config audio), VideoFlash/*.flv (config av); file names
    ACTOR_SENTENCE_EMOTION_LEVEL (1001_DFA_ANG_XX.wav). Any folder depth works.
    """

    def _clip_features(self) -> dict:
        return {
            "sentence": tfds.features.ClassLabel(names=list(cremad.SENTENCES)),
            "level": tfds.features.ClassLabel(names=list(cremad.LEVELS)),
        }

    def _clip_fields(self, clip: corpora.Clip) -> dict:
        actor, sentence, _, level = cremad.parse(clip.id)
        return {"actor": np.int32(actor), "sentence": sentence, "level": level}

    def _scan(self, root: str) -> corpora.Scan:
        return corpora.CremaD(root, "audio-video" if self.builder_config.with_faces else "audio").scan()
