"""torchvision's ImageNet image encoders in Keras, layer for layer, so that its checkpoints
load exactly (`torchvision_weights`): ResNet50 as torchvision builds it (v1.5: the stride of a
downsampling block on its 3x3 convolution, where Keras's ResNet50 puts it on the first 1x1) and
MobileNetV2 (padding 1 on both sides of every 3x3, where Keras's pads after the input only).

Each Keras layer with weights is named after its torchvision module, dots as underscores
(`layer1_0_conv1` holds `layer1.0.conv1.weight`). Faces are normalised with torchvision's
ImageNet statistics inside the model.
"""

from __future__ import annotations

import keras
from keras import layers

from emorec.models import inputs
from emorec.models.layers import FacePreprocess, batch_norm


def _conv_bn(x, filters, kernel, stride, conv_name, bn_name, activation=None, depthwise=False):
    if kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2)(x)
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, use_bias=False, name=conv_name)(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, use_bias=False, name=conv_name)(x)
    x = batch_norm(bn_name, epsilon=1e-5, momentum=0.9)(x)
    return activation()(x) if activation else x


def _bottleneck(x, width, stride, name):
    y = _conv_bn(x, width, 1, 1, f"{name}_conv1", f"{name}_bn1", layers.ReLU)
    y = _conv_bn(y, width, 3, stride, f"{name}_conv2", f"{name}_bn2", layers.ReLU)
    y = _conv_bn(y, 4 * width, 1, 1, f"{name}_conv3", f"{name}_bn3")
    if stride != 1 or x.shape[-1] != 4 * width:
        x = _conv_bn(x, 4 * width, 1, stride, f"{name}_downsample_0", f"{name}_downsample_1")
    return layers.ReLU()(layers.Add()([y, x]))


def resnet50(image_size: int = 112) -> keras.Model:
    """uint8 face [S, S, 3] -> 2048-d, torchvision's `resnet50` without its classifier."""
    face = inputs.face(image_size)
    x = FacePreprocess("imagenet_torchvision")(face)
    x = _conv_bn(x, 64, 7, 2, "conv1", "bn1", layers.ReLU)
    # Zero padding is max pooling's -inf padding here: the inputs are ReLU outputs.
    x = layers.MaxPooling2D(3, 2)(layers.ZeroPadding2D(1)(x))
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for block in range(blocks):
            x = _bottleneck(x, width, 2 if stage > 1 and block == 0 else 1, f"layer{stage}_{block}")
    return keras.Model(face, layers.GlobalAveragePooling2D()(x), name="resnet50")


# (expansion, channels, blocks, first stride), as in the MobileNetV2 paper's Table 2.
_INVERTED_RESIDUALS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2(image_size: int = 112) -> keras.Model:
    """uint8 face [S, S, 3] -> 1280-d, torchvision's `mobilenet_v2` without its classifier."""
    relu6 = lambda: layers.ReLU(6.0)  # noqa: E731
    face = inputs.face(image_size)
    x = FacePreprocess("imagenet_torchvision")(face)
    x = _conv_bn(x, 32, 3, 2, "features_0_0", "features_0_1", relu6)
    index = 1
    for expansion, channels, blocks, first_stride in _INVERTED_RESIDUALS:
        for block in range(blocks):
            stride, name, part = first_stride if block == 0 else 1, f"features_{index}_conv", 0
            y = x
            if expansion != 1:
                y = _conv_bn(y, x.shape[-1] * expansion, 1, 1, f"{name}_0_0", f"{name}_0_1", relu6)
                part = 1
            y = _conv_bn(y, None, 3, stride, f"{name}_{part}_0", f"{name}_{part}_1", relu6, depthwise=True)
            y = _conv_bn(y, channels, 1, 1, f"{name}_{part + 1}", f"{name}_{part + 2}")
            x = layers.Add()([x, y]) if stride == 1 and x.shape[-1] == channels else y
            index += 1
    x = _conv_bn(x, 1280, 1, 1, f"features_{index}_0", f"features_{index}_1", relu6)
    return keras.Model(face, layers.GlobalAveragePooling2D()(x), name="mobilenet_v2")
