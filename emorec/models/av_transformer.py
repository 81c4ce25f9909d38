"""One transformer encoder over both modalities (the reference study's future work).

Faces become tubelet tokens (2 frames x p x p pixels, as in ViViT), the log-mel becomes
tokens of 4 mel frames (40 ms); each token gets a learned position (its time, and for
faces its place in the image) and a learned modality embedding, and one encoder attends
over all of them. Prediction from a class token.
"""

from __future__ import annotations

import keras
from keras import layers

from emorec.media.features import FPS
from emorec.models import inputs
from emorec.models.layers import (
    ClassToken,
    FacePreprocess,
    FrameConv3D,
    LogMel,
    PositionEmbedding,
    UtteranceNorm,
    classifier_head,
    register,
    transformer_block,
)
from emorec.models.network import Network


@register
class ModalityEmbedding(layers.Layer):
    """Adds one learned vector to every token of a modality."""

    def build(self, shape):
        self.embedding = self.add_weight(
            shape=(shape[-1],), name="embedding", initializer=keras.initializers.TruncatedNormal(stddev=0.02)
        )

    def call(self, x):
        return x + self.embedding


@register
class AVTransformer(Network):
    """faces uint8 [batch, frames, S, S, 3] and waveform float32 [batch, frames * 16000 / fps]
    -> probabilities [batch, num_classes]."""

    def __init__(
        self,
        num_classes=8,
        frames=16,
        image_size=112,
        fps=FPS,
        patch=16,
        tubelet=2,
        num_mels=64,
        mel_frames_per_token=4,
        dim=192,
        num_layers=4,
        num_heads=3,
        dropout=0.1,
        name="av_transformer",
        **kwargs,
    ):
        faces = inputs.faces(frames, image_size)
        waveform = inputs.waveform(frames, fps)

        v = FrameConv3D(dim, (tubelet, patch, patch), (tubelet, patch, patch), name="tubelet_embed")(
            FacePreprocess("symmetric")(faces)
        )
        v = layers.Reshape((-1, dim))(v)
        v = ModalityEmbedding(name="video_modality")(PositionEmbedding(name="video_positions")(v))

        mel = UtteranceNorm()(LogMel(num_mels, name="log_mel")(waveform))
        a = layers.Conv1D(dim, mel_frames_per_token, strides=mel_frames_per_token, name="audio_embed")(mel)
        a = ModalityEmbedding(name="audio_modality")(PositionEmbedding(name="audio_positions")(a))

        x = ClassToken(name="class_token")(layers.Concatenate(axis=1)([v, a]))
        for i in range(num_layers):
            x = transformer_block(x, num_heads, 4 * dim, dropout, name=f"encoder{i}")
        x = layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
        outputs = classifier_head(x[:, 0], num_classes, dropout)
        super().__init__({"faces": faces, "waveform": waveform}, outputs, name=name, **kwargs)
