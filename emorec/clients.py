"""What runs an exported model, wherever it runs: one declared interface (`Client`) that the
Keras model in this process, the SavedModel, the TFLite file and TF Serving's REST and gRPC
clients implement, and its enrolment half (`Enrolment`: a speaker's features for the
statistics a speaker-normalised model takes), which training's Keras features implement too.
What a caller sends is checked here, once, by `emorec.checks.check_inputs`; an implementation
receives checked arrays only.
"""

from __future__ import annotations

import abc

import numpy as np

from emorec.checks import check_inputs
from emorec.errors import UserError
from emorec.signatures import SPEAKER_FEATURES, InputSpec


class Enrolment(abc.ABC):
    """The features of a speaker's audio that `emorec.enrolment` pools into `speaker_stats`."""

    # Samples of one enrolment window; None: any length (whole recordings) or no features.
    speaker_window_samples: int | None = None
    has_speaker_features: bool = False
    feature_dims: int  # how many trailing axes of its features make one feature row

    def speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        """float32 [batch, samples] of 16 kHz audio -> the features of `emorec.enrolment`."""
        if not self.has_speaker_features:
            raise UserError(
                f"{self.describe()} takes no speaker statistics (it exports no {SPEAKER_FEATURES} "
                "signature): give it no speaker's audio, or export it again with this emorec"
            )
        spec = InputSpec((None, self.speaker_window_samples), np.dtype(np.float32))
        return np.asarray(self._speaker_features(check_inputs({"waveform": waveform}, {"waveform": spec})["waveform"]))

    @abc.abstractmethod
    def describe(self) -> str:
        """What it runs, for messages: a path, a model's name, a server's address."""

    def _speaker_features(self, waveform: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # reached only where has_speaker_features is set


class Client(Enrolment):
    """An exported model: `predict` takes {'faces', 'waveform', 'speaker_stats',
    'speaker_windows'} as its `signature` names them, and returns {'probabilities', 'labels',
    'class_names', ...} as NumPy arrays."""

    signature: dict[str, InputSpec]

    @property
    def feature_dims(self) -> int:
        return len(self.signature["speaker_stats"].shape) - 2

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._predict(check_inputs(inputs, self.signature))

    @abc.abstractmethod
    def _predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The outputs for inputs `check_inputs` let through."""
