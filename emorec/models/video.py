"""Per-frame image encoder + temporal model: `resnet_lstm` and `resnet_transformer`."""

from __future__ import annotations

from keras import layers

from emorec.models import inputs
from emorec.models.backbones import frame_encoder
from emorec.models.layers import EveryFrame, PositionEmbedding, every_layer, register, transformer_block
from emorec.models.network import Encoder


# EveryFrame runs a window's frames through the image encoder as one batch, so its batch norms
# update their moving statistics once a step, not once a frame as under TimeDistributed; at
# Keras' momentum (0.99, MobileNetV2's 0.999) a short run served statistics still near their
# initial values (make demo fell to chance; docs/training.md). Torch's momentum, as the
# torchvision layouts have it.
FRAME_BN_MOMENTUM = 0.9


def frame_embeddings(faces, backbone: str, image_size: int, weights):
    """[batch, frames, S, S, 3] uint8 -> [batch, frames, D] with one shared image encoder."""
    encoder = frame_encoder(backbone, image_size, weights)
    for layer in every_layer(encoder):
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = min(layer.momentum, FRAME_BN_MOMENTUM)
    return EveryFrame(encoder, name="frame_encoder")(faces)


@register
class ResNetLSTM(Encoder):
    """faces uint8 [batch, frames, S, S, 3] -> [batch, 2 * lstm_units]: a bidirectional
    LSTM over the per-frame embeddings."""

    modality = "faces"

    def __init__(
        self,
        frames=16,
        image_size=112,
        backbone="resnet50",
        weights=None,
        lstm_units=256,
        dropout=0.3,
        name="resnet_lstm_encoder",
        **kwargs,
    ):
        faces = inputs.faces(frames, image_size)
        x = layers.Dropout(dropout)(frame_embeddings(faces, backbone, image_size, weights))
        x = layers.Bidirectional(layers.LSTM(lstm_units), name="bilstm")(x)
        super().__init__(faces, x, name=name, **kwargs)


@register
class ResNetTransformer(Encoder):
    """faces uint8 [batch, frames, S, S, 3] -> [batch, dim]: a transformer encoder with
    learned positions over the per-frame embeddings, mean-pooled."""

    modality = "faces"

    def __init__(
        self,
        frames=16,
        image_size=112,
        backbone="resnet50",
        weights=None,
        dim=256,
        num_layers=2,
        num_heads=4,
        dropout=0.1,
        name="resnet_transformer_encoder",
        **kwargs,
    ):
        faces = inputs.faces(frames, image_size)
        x = layers.Dense(dim, name="frame_projection")(frame_embeddings(faces, backbone, image_size, weights))
        x = PositionEmbedding(name="positions")(x)
        for i in range(num_layers):
            x = transformer_block(x, num_heads, 4 * dim, dropout, name=f"temporal{i}")
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        super().__init__(faces, layers.GlobalAveragePooling1D()(x), name=name, **kwargs)
