"""Audio encoders on the 16 kHz waveform of a window of video frames.

`wave_cnn1d` learns from the raw waveform (an M5-style 1D CNN, Dai et al. 2017);
`mel_cnn2d` computes the log-mel spectrogram in its own graph (the builder's function) and
runs a 2D CNN over it. Both standardise each input first, so recording gain does not matter.
"""

from __future__ import annotations

import keras
from keras import layers

from emorec.errors import UserValueError
from emorec.media.features import FPS
from emorec.models import inputs
from emorec.models.layers import (
    LogMel,
    RandomStretch,
    SpeakerNorm,
    SpecAugment,
    UtteranceNorm,
    batch_norm,
    register,
)
from emorec.models.network import Encoder


def _pooled(x):
    """Mean and max over time (and frequency): where a cue is and how strong it is."""
    pool_avg = layers.GlobalAveragePooling2D if len(x.shape) == 4 else layers.GlobalAveragePooling1D
    pool_max = layers.GlobalMaxPooling2D if len(x.shape) == 4 else layers.GlobalMaxPooling1D
    return layers.Concatenate()([pool_avg()(x), pool_max()(x)])


@register
class WaveCNN1D(Encoder):
    """waveform float32 [batch, frames * 16000 / fps] -> [batch, 2 * widths[-1]]."""

    modality = "voice"

    def __init__(
        self, frames=16, fps=FPS, widths=(64, 128, 256, 512), dropout=0.2, name="wave_cnn1d_encoder", **kwargs
    ):
        waveform = inputs.waveform(frames, fps)
        x = UtteranceNorm()(layers.Reshape((-1, 1))(waveform))
        for i, width in enumerate(widths):
            kernel, stride = (80, 4) if i == 0 else (3, 1)  # the first layer spans 5 ms
            x = layers.Conv1D(width, kernel, strides=stride, padding="same", use_bias=False, name=f"conv{i}")(x)
            x = layers.ReLU()(batch_norm(f"bn{i}")(x))
            x = layers.MaxPooling1D(4, padding="same")(x)
        super().__init__(waveform, layers.Dropout(dropout)(_pooled(x)), name=name, **kwargs)


@register
class MelCNN2D(Encoder):
    """waveform float32 [batch, frames * 16000 / fps] (and, with `normalization='speaker'`,
    speaker_stats float32 [batch, 2, num_mels]) -> log-mel -> [batch, 2 * widths[-1]].

    `normalization`: 'speaker' standardises each mel band with the speaker's statistics
    (`emorec.media.features.speaker_statistics`); 'utterance' standardises each window on
    its own. While training, `freq_warp` stretches each example's mel axis by a random factor
    within 1 ± freq_warp (vocal tract length perturbation: new voices from the training
    speakers) and `time_warp` its time axis (tempo). Five stages of one 3x3 convolution and
    2x2 max pooling: a 64-frame window trains in 8 ms here against 45 ms for four stages of
    two (32 to 256 channels), which is what makes a fold take minutes; their accuracies were
    not compared.
    """

    modality = "voice"

    def __init__(
        self,
        frames=16,
        fps=FPS,
        num_mels=64,
        widths=(16, 32, 64, 128, 256),
        convs_per_stage=1,
        normalization="speaker",
        freq_warp=0.0,
        time_warp=0.0,
        spec_augment=False,
        dropout=0.2,
        name="mel_cnn2d_encoder",
        **kwargs,
    ):
        if normalization not in ("speaker", "utterance"):
            raise UserValueError(f"normalization must be 'speaker' or 'utterance', got {normalization!r}")
        waveform = inputs.waveform(frames, fps)
        log_mel = LogMel(num_mels, name="log_mel")
        mel = log_mel(waveform)
        if normalization == "speaker":
            stats = inputs.speaker_stats(num_mels)
            model_inputs, x = [waveform, stats], SpeakerNorm()([mel, stats])
        else:
            model_inputs, x = waveform, UtteranceNorm()(mel)
        if freq_warp:
            x = RandomStretch(axis=-1, max_change=freq_warp, name="freq_warp")(x)
        if time_warp:
            x = RandomStretch(axis=1, max_change=time_warp, name="time_warp")(x)
        if spec_augment:
            x = SpecAugment(name="spec_augment")(x)
        x = layers.Reshape((-1, num_mels, 1))(x)
        for i, width in enumerate(widths):
            for j in range(convs_per_stage):
                x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}_{j}")(x)
                x = layers.ReLU()(batch_norm(f"bn{i}_{j}")(x))
            x = layers.MaxPooling2D(2, padding="same")(x)
        super().__init__(model_inputs, layers.Dropout(dropout)(_pooled(x)), name=name, **kwargs)
        self.log_mel = log_mel

    def speaker_features(self) -> keras.Model | None:
        """The log-mel frames of a recording of any length: the builder's statistics are over whole clips."""
        if self.get_config()["normalization"] != "speaker":
            return None
        waveform = inputs.waveform_samples(None)
        return keras.Model(waveform, self.log_mel(waveform), name="log_mel_features")
