"""3D ResNet-18 (Tran et al. 2018, "A Closer Look at Spatiotemporal Convolutions").

Full 3x3x3 convolutions in every residual block; a (3,7,7) stride-(1,2,2) stem without
max pooling; stages of 64, 128, 256 and 512 channels, each after the first downsampling
time and space by 2. 33.4 M parameters with 400 classes, as the reference model.
"""

from __future__ import annotations

from keras import layers

from emorec.models import inputs, torchvision_weights
from emorec.models.layers import FacePreprocess, FrameConv3D, batch_norm, register
from emorec.models.network import Encoder


def _conv_bn(x, filters, kernel, stride, name, relu=True):
    # Explicit symmetric padding, as the reference's padding=k//2, then a valid conv.
    x = layers.ZeroPadding3D([k // 2 for k in kernel])(x)
    x = FrameConv3D(filters, kernel, stride, use_bias=False, name=f"{name}_conv")(x)
    x = batch_norm(f"{name}_bn", epsilon=1e-5, momentum=0.9)(x)
    return layers.ReLU()(x) if relu else x


def _basic_block(x, filters, stride, name):
    shortcut = x
    y = _conv_bn(x, filters, (3, 3, 3), stride, f"{name}_a")
    y = _conv_bn(y, filters, (3, 3, 3), 1, f"{name}_b", relu=False)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = FrameConv3D(filters, 1, stride, use_bias=False, name=f"{name}_down_conv")(x)
        shortcut = batch_norm(f"{name}_down_bn", epsilon=1e-5, momentum=0.9)(shortcut)
    return layers.ReLU()(layers.Add()([y, shortcut]))


@register
class R3D(Encoder):
    """faces uint8 [batch, frames, S, S, 3] -> [batch, widths[-1]]. `weights`: None (random),
    'kinetics400' (torchvision's r3d_18 Kinetics-400 checkpoint), a torchvision .pth file, or a
    Keras weights file saved from this encoder."""

    modality = "faces"

    def __init__(
        self, frames=16, image_size=112, widths=(64, 128, 256, 512), weights=None, name="r3d_encoder", **kwargs
    ):
        faces = inputs.faces(frames, image_size)
        x = FacePreprocess("kinetics")(faces)
        x = _conv_bn(x, widths[0], (3, 7, 7), (1, 2, 2), "stem")
        for stage, width in enumerate(widths):
            for block in range(2):
                stride = 2 if stage > 0 and block == 0 else 1
                x = _basic_block(x, width, stride, f"stage{stage + 1}_block{block + 1}")
        x = layers.GlobalAveragePooling3D()(x)
        super().__init__(faces, x, name=name, **kwargs)
        torchvision_weights.encoder_weights(self, "r3d", weights)
