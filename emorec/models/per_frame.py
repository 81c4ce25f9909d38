"""The per-frame model: a frame encoder plus the spectrogram under each frame, into an LSTM
that returns one prediction per frame (the reference study's ResNet + LSTM with spectrogram)."""

from __future__ import annotations

from keras import layers

from emorec.media.features import FPS
from emorec.models import inputs
from emorec.models.layers import FrameSpectrogram, LogMel, UtteranceNorm, register
from emorec.models.network import Network
from emorec.models.video import frame_embeddings


@register
class PerFrame(Network):
    """faces uint8 [batch, frames, S, S, 3] and waveform float32 [batch, frames * 16000 / fps]
    -> probabilities [batch, frames, num_classes].

    bidirectional=False makes each frame's prediction depend on past frames only, for
    streaming with no look-ahead.
    """

    def __init__(
        self,
        num_classes=8,
        frames=16,
        image_size=112,
        backbone="resnet50",
        weights=None,
        fps=FPS,
        num_mels=64,
        audio_dim=128,
        lstm_units=256,
        bidirectional=True,
        dropout=0.3,
        name="per_frame",
        **kwargs,
    ):
        faces = inputs.faces(frames, image_size)
        waveform = inputs.waveform(frames, fps)
        video = frame_embeddings(faces, backbone, image_size, weights)
        mel = UtteranceNorm()(LogMel(num_mels, name="log_mel")(waveform))
        spectra = FrameSpectrogram(frames, fps, name="frame_spectrogram")(mel)
        spectra = layers.Reshape((frames, -1))(spectra)
        audio = layers.Dense(audio_dim, activation="relu", name="frame_audio")(spectra)
        x = layers.Dropout(dropout)(layers.Concatenate()([video, audio]))
        lstm = layers.LSTM(lstm_units, return_sequences=True)
        x = layers.Bidirectional(lstm, name="bilstm")(x) if bidirectional else lstm(x)
        x = layers.Dropout(dropout)(x)
        outputs = layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
        super().__init__({"faces": faces, "waveform": waveform}, outputs, name=name, **kwargs)
