"""Serving what was trained: class names from the export on every path (local SavedModel, TF
Serving REST and gRPC, through the loopback stand-ins), every request checked, a server that
is down said in one line."""

import contextlib
import re

import numpy as np
import pytest
import tensorflow as tf

from emorec import checks, errors, export, models, serving, synthetic, tflite
from emorec.errors import UserError

import serving_standin

SEVEN = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")


@pytest.fixture(scope="module")
def seven_class(tmp_path_factory):
    """A 7-class audio export whose classes are not RAVDESS's eight."""
    model = models.build("wave_cnn1d", num_classes=7, frames=4)
    return export.export(model, str(tmp_path_factory.mktemp("exports")), "audio", SEVEN, version=1)


PIPELINE = {
    "size": 96,
    "margin": 1.1,
    "detector": "haar",
    "decode_width": 320,
    "fast_decode": False,
    "detect_every": 3,
    "detect_width": 160,
    "min_face": 0.1,
}


# r3d at widths of 8 and 16, not its 64 to 512: what is served and refused is the same, and the
# full width's 34M weights made each test that loads the export (a SavedModel per client, each
# bad request) a second or more slower.
NARROW_R3D = {"widths": (8, 8, 16, 16)}


@pytest.fixture(scope="module")
def av(tmp_path_factory):
    model = models.build("r3d+wave_cnn1d", frames=4, image_size=32, **NARROW_R3D)
    return export.export(
        model,
        str(tmp_path_factory.mktemp("exports")),
        "av",
        [f"class {i}" for i in range(8)],
        version=1,
        metadata={"face_pipeline": PIPELINE},
    )


@pytest.fixture(scope="module")
def av_clients(av):
    """The av export's clients, for the module: each test that made its own (stand-ins started,
    the SavedModel loaded for each) spent a second or two on them. Refused requests leave
    nothing behind in a client or a stand-in."""
    with _clients(av, "av") as clients:
        yield clients


def test_the_face_pipeline_comes_from_the_export_on_every_path(av_clients):
    """A client of TF Serving cannot read emorec.json: the served graph says how its
    training crops were made."""
    for kind, model in av_clients.items():
        assert checks.read_export_info(model)["face_pipeline"] == PIPELINE, kind


@contextlib.contextmanager
def _clients(path, name):
    """A local model and clients of both stand-ins, with signatures read from each server."""
    with serving_standin.rest(path, name) as rest_port, serving_standin.grpc_server(path, name) as grpc_port:
        yield {
            "local": serving.LocalModel(path),
            "rest": serving.ServingClient.from_server(name, "127.0.0.1", rest_port, protocol="rest"),
            # gRPC alone: the REST port given is closed, and nothing may need it.
            "grpc": serving.ServingClient.from_server(
                name, "127.0.0.1", rest_port=1, grpc_port=grpc_port, protocol="grpc"
            ),
        }


def test_class_names_come_from_the_export_on_every_path(seven_class):
    waveform = np.random.default_rng(0).normal(0, 0.1, (3, 16000)).astype("float32")
    with _clients(seven_class, "audio") as clients:
        for kind, model in clients.items():
            assert checks.read_export_info(model) == {"class_names": list(SEVEN), "face_pipeline": None}, kind
            out = model.predict({"waveform": waveform[:, : model.signature["waveform"][0][1]]})
            labels = [x.decode() if isinstance(x, bytes) else x for x in np.asarray(out["labels"])]
            assert labels == [SEVEN[i] for i in np.argmax(out["probabilities"], -1)], kind


def test_class_names_that_do_not_match_the_output_width_are_an_error(tmp_path):
    model = models.build("wave_cnn1d", num_classes=7, frames=4)
    with pytest.raises(ValueError, match=r"8 class names .* a model with 7 outputs"):
        export.export(model, str(tmp_path), "audio", [f"c{i}" for i in range(8)], version=1)

    class Stale:  # an export read back whose names and output disagree
        signature = {"waveform": ((None, 10), np.float32)}

        def predict(self, inputs):
            return {"probabilities": np.zeros((1, 7)), "class_names": np.array([[b"a"] * 8])}

        def describe(self):
            return "stale"

    with pytest.raises(UserError, match="stale "):
        checks.read_export_info(Stale())


BAD_REQUESTS = [
    ("faces", lambda f, w: (f.astype(np.float32) / 255, w), "faces: expected uint8 RGB, 0-255, got float32"),
    ("faces", lambda f, w: (f.astype(np.float64) + 300.7, w), "faces: expected uint8 RGB, 0-255, got float64"),
    ("faces", lambda f, w: (f.astype(np.int32) + 300, w), "faces: expected uint8 RGB, 0-255, got values from 300"),
    ("faces", lambda f, w: (np.concatenate([f, f], 1), w), r"faces: expected shape \[batch, 4, 32, 32, 3\]"),
    ("faces", lambda f, w: (f[:, :, :16, :16], w), r"faces: expected shape \[batch, 4, 32, 32, 3\]"),
    ("waveform", lambda f, w: (f, np.full_like(w, np.nan)), "waveform: .* values are NaN or infinite"),
    ("waveform", lambda f, w: (f, w * 32768), r"waveform: expected float32 16 kHz samples in \[-1, 1\], got values"),
    ("batch", lambda f, w: (f, w[:1]), "inputs disagree on the batch size"),
    ("batch", lambda f, w: (f[:0], w[:0]), "a request holds at least 1 window, this one none"),  # REST: an error page
]


@pytest.mark.parametrize(
    "name, spoil, message", BAD_REQUESTS, ids=[m.split(":")[0] + str(i) for i, (_, _, m) in enumerate(BAD_REQUESTS)]
)
def test_every_bad_request_is_refused_in_one_line_on_every_path(av_clients, name, spoil, message):
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (2, 4, 32, 32, 3), dtype=np.uint8)
    for kind, model in av_clients.items():
        waveform = rng.normal(0, 0.1, (2, model.signature["waveform"][0][1])).astype(np.float32)
        bad_faces, bad_waveform = spoil(faces, waveform)
        with pytest.raises(ValueError, match=message) as refused:
            model.predict({"faces": bad_faces, "waveform": bad_waveform})
        assert "\n" not in str(refused.value), kind
        model.predict({"faces": faces, "waveform": waveform})  # the good request goes through


@pytest.fixture(scope="module")
def speaker_av(tmp_path_factory):
    """An audio-visual export that takes a speaker's statistics (mel_cnn2d normalises per speaker)."""
    model = models.build("resnet_lstm+mel_cnn2d", frames=4, image_size=32, backbone="small_cnn")
    return export.export(
        model, str(tmp_path_factory.mktemp("exports")), "av", [f"class {i}" for i in range(8)], version=1
    )


@pytest.fixture(scope="module")
def speaker_av_local(speaker_av):
    """speaker_av loaded once for the module (a load each was most of each test's time)."""
    return serving.LocalModel(speaker_av)


RAW_REQUESTS = [  # what a client that skips emorec's checks can send TF Serving
    ("frames", lambda r: {**r, "faces": np.concatenate([r["faces"]] * 2, 1)}, r"faces: expected shape \[batch, 4, 32"),
    (
        "pixels",
        lambda r: {**r, "faces": np.zeros((2, 4, 64, 64, 3), np.uint8)},
        r"faces: expected shape \[batch, 4, 32",
    ),
    ("broadcast", lambda r: {**r, "speaker_stats": r["speaker_stats"][:1]}, "inputs disagree on the batch size"),
    ("nan", lambda r: {**r, "speaker_stats": np.full_like(r["speaker_stats"], np.nan)}, "speaker_stats: NaN or inf"),
    (
        "clipped",
        lambda r: {**r, "waveform": np.clip(r["waveform"] * 40, -1.9, 1.9)},
        r"waveform: expected float32 16 kHz samples in \[-1, 1\]",
    ),
    ("size", lambda r: {k: np.repeat(v[:1], 65, 0) for k, v in r.items()}, "a request holds at most 64 windows"),
    (
        "deviations",
        lambda r: {**r, "speaker_stats": r["speaker_stats"] * np.array([1, -1], np.float32)[:, None]},
        r"speaker_stats: expected the mean and standard deviation of each feature of the speaker, the deviations "
        r"\(speaker_stats\[:, 1\]\) positive",
    ),
]


@pytest.mark.parametrize("spoil, message", [r[1:] for r in RAW_REQUESTS], ids=[r[0] for r in RAW_REQUESTS])
def test_the_served_graph_refuses_what_the_client_would(speaker_av, speaker_av_local, spoil, message):
    """Requests fed to the SavedModel as TF Serving's loader feeds them (no check on the way):
    the graph refuses each with the client's words, and answers the good request."""
    signature = speaker_av_local.signature
    rng = np.random.default_rng(0)
    good = {
        "faces": rng.integers(0, 256, (2, 4, 32, 32, 3), dtype=np.uint8),
        "waveform": rng.normal(0, 0.1, (2, signature["waveform"][0][1])).astype(np.float32),
        "speaker_stats": np.stack([np.zeros((2, 64)), np.ones((2, 64))], 1).astype(np.float32),
    }
    assert serving_standin._run(speaker_av, "serving_default", good)["probabilities"].shape == (2, 8)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serving_standin._run(speaker_av, "serving_default", spoil(good))
    with pytest.raises(ValueError, match=message.split(":")[0]):  # and the client says it first
        speaker_av_local.predict(spoil(good))


def test_a_server_that_is_down_is_one_line(seven_class):
    with serving_standin.rest(seven_class, "audio") as port:
        pass  # closed again: nothing listens there now
    for protocol in ("rest", "grpc"):
        with pytest.raises(UserError, match=f"at 127.0.0.1:{port} \\({protocol}\\)"):
            serving.ServingClient.from_server(
                "audio", "127.0.0.1", rest_port=port, grpc_port=port, protocol=protocol, timeout=5
            )


def test_rest_sent_to_a_grpc_port_says_which_port_is_which(seven_class):
    with serving_standin.grpc_server(seven_class, "audio") as port:
        with pytest.raises(UserError, match=f"at 127.0.0.1:{port} \\(rest\\)"):
            serving.ServingClient.from_server("audio", "127.0.0.1", rest_port=port, protocol="rest", timeout=5)


@pytest.mark.parametrize(
    "spoil, said",
    [
        (lambda v: next(v.glob("variables.data*")).unlink(), "No such file"),
        (
            lambda v: (lambda f: f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2]))(
                next(v.glob("variables.data*"))
            ),
            "Read less bytes",
        ),
        (lambda v: (v / "variables.index").unlink(), "Failed to find any matching files"),
    ],
    ids=["data deleted", "data truncated", "index deleted"],
)
def test_a_damaged_savedmodel_is_one_line_naming_it(seven_class, tmp_path, spoil, said):
    import shutil

    copy = tmp_path / "audio" / "1"
    shutil.copytree(seven_class, copy)
    spoil(copy / "variables")
    with pytest.raises(UserError, match=f"{copy}: .*{said}") as e:
        serving.LocalModel(str(copy))
    assert "\n" not in str(e.value)


def test_training_and_serving_take_a_speakers_statistics_alike(sample_dir, tmp_path):
    """The dataset pipeline's statistics of actor 1 (from the stored waveforms, through the
    model's own log-mel: 128 bands here, where the builder stores 64) equal the enrolment of
    the export on the same recordings."""
    import tensorflow_datasets as tfds

    from datasets.ravdess import ravdess_dataset_builder
    from emorec.data import speakers, windows
    from emorec import enrolment

    builder = ravdess_dataset_builder.Builder(data_dir=str(tmp_path / "data"), config="audio")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(sample_dir)))
    model = models.build("mel_cnn2d", frames=8, num_mels=128)
    spec = windows.WindowSpec.for_model(model, 8)
    trained = speakers.speaker_table(builder, "actor_01+actor_02", spec.speaker_features).numpy()
    assert trained.shape == (3, 2, 128)
    local = serving.LocalModel(
        export.export(model, str(tmp_path / "exports"), "audio", [f"c{i}" for i in range(8)], version=1)
    )
    for actor in (1, 2):
        clips = tfds.as_numpy(builder.as_dataset(split=f"actor_{actor:02d}"))
        served = enrolment.speaker_stats(local, [c["waveform"] for c in clips])
        np.testing.assert_allclose(served, trained[actor], rtol=1e-5, atol=1e-5)
    assert np.abs(trained[1] - trained[2]).max() > 0.1  # two speakers, two sets of statistics
    # What a training window carries is that table's row for its speaker.
    inputs, _ = next(iter(windows.train_dataset(builder, "actor_01", spec, batch_size=2)))
    np.testing.assert_allclose(inputs["speaker_stats"].numpy(), np.repeat(trained[1][None], 2, 0))


def test_the_raw_signature_refuses_nan_and_unscaled_audio(seven_class):
    """A request that reaches TF Serving without emorec's client (curl, another language)."""
    import tensorflow as tf

    function = tf.saved_model.load(seven_class).signatures["serving_default"]
    samples = serving.LocalModel(seven_class).signature["waveform"][0][1]
    for bad, message in (
        (np.full((1, samples), np.nan), "NaN or infinite"),
        (np.full((1, samples), 300.0), r"\[-1, 1\]"),
    ):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            function(waveform=tf.constant(bad, tf.float32))
    assert function(waveform=tf.zeros((1, samples)))["probabilities"].shape == (1, 7)


def _faces_then_voice_average():
    """A tiny `models.Average` shaped like the default preset's: first a faces member whose first
    layer is a Resizing (fer2013_faces: its `training` default is True), then a voice member with
    dropout (ravdess_speech_whisper's head)."""
    import keras

    faces = keras.Input((2, 8, 8, 3), dtype="uint8", name="faces")
    x = keras.layers.Flatten()(keras.layers.Resizing(4, 4)(keras.layers.Reshape((16, 8, 3))(faces)))
    face_member = keras.Model(faces, keras.layers.Dense(8, activation="softmax")(x), name="faces_member")
    waveform = keras.Input((64,), name="waveform")
    x = keras.layers.Dropout(0.5)(keras.layers.Dense(4)(waveform))
    voice_member = keras.Model(waveform, keras.layers.Dense(8, activation="softmax")(x), name="voice_member")
    return models.Average([face_member, voice_member])


def test_an_average_of_faces_and_a_voice_with_dropout_exports_and_serves_alike(tmp_path):
    """The default preset's shape: its export failed ("captures tensor seed_generator_state ...
    not reachable from root"), as TensorFlow also saved the Keras model's own serving function,
    in which the Resizing layer's default turned the voice member's dropout on."""
    model, names = _faces_then_voice_average(), [f"c{i}" for i in range(8)]
    rng = np.random.default_rng(0)
    batch = {
        "faces": rng.integers(0, 256, (3, 2, 8, 8, 3), dtype=np.uint8),
        "waveform": rng.uniform(-0.5, 0.5, (3, 64)).astype(np.float32),
    }
    expected = serving.KerasModel(model, names).predict(batch)["probabilities"]
    path = export.export(model, str(tmp_path), "average", names, version=1)
    for outputs in (
        serving.LocalModel(path).predict(batch),
        serving_standin._run(path, "serving_default", batch),
        tflite.TFLiteModel(export.export_tflite(model, str(tmp_path / "average.tflite"), names)).predict(batch),
    ):
        np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)  # no dropout anywhere


def test_an_existing_version_is_replaced_only_when_asked_and_then_whole(tmp_path):
    model, names = models.build("wave_cnn1d", num_classes=7, frames=4), list(SEVEN)
    path = export.export(model, str(tmp_path), "audio", names, version=1)
    (tmp_path / "audio" / "1" / "left_over.txt").write_text("from the old export")
    with pytest.raises(UserError, match=f"{path} "):
        export.export(model, str(tmp_path), "audio", names, version=1)
    assert export.export(model, str(tmp_path), "audio", names, version=1, overwrite=True) == path
    assert not (tmp_path / "audio" / "1" / "left_over.txt").exists()
    assert checks.read_export_info(serving.LocalModel(path))["class_names"] == names
    assert export.export(model, str(tmp_path), "audio", names) == str(tmp_path / "audio" / "2")  # the next, unasked


def test_speaker_stats_with_a_deviation_under_zero_or_zero_for_a_speaker_heard_are_refused(speaker_av):
    """A negative standard deviation was accepted and flipped the normalised features."""
    local = serving.LocalModel(speaker_av)
    rng = np.random.default_rng(0)
    good = {
        "faces": rng.integers(0, 256, (2, 4, 32, 32, 3), dtype=np.uint8),
        "waveform": rng.normal(0, 0.1, (2, local.signature["waveform"][0][1])).astype(np.float32),
        "speaker_stats": np.stack([np.zeros((2, 64)), np.ones((2, 64))], 1).astype(np.float32),
    }
    local.predict(good)
    for std, said in ((-0.5, "-0.5"), (0.0, "0")):
        stats = good["speaker_stats"].copy()
        stats[1, 1, 7] = std
        with pytest.raises(
            ValueError,
            match=rf"speaker_stats: .* deviations \(speaker_stats\[:, 1\]\) positive, "
            rf"got {said}: compute them with emorec.enrolment$",
        ) as refused:
            local.predict({**good, "speaker_stats": stats})
        assert "\n" not in str(refused.value)
    # A model with a prior: zeros are a speaker not heard yet (speaker_windows 0), and only then.
    signature = {"speaker_stats": ((None, 2, 3), np.float32), "speaker_windows": ((None,), np.float32)}
    cold = {"speaker_stats": np.zeros((2, 2, 3), np.float32), "speaker_windows": np.zeros(2, np.float32)}
    checks.check_inputs(cold, signature)
    with pytest.raises(ValueError, match=r"got 0: .*\(a speaker not heard yet: zeros, with speaker_windows 0\)"):
        checks.check_inputs({**cold, "speaker_windows": np.array([0, 3], np.float32)}, signature)
    with pytest.raises(ValueError, match="got -1"):
        checks.check_inputs({**cold, "speaker_stats": -np.ones((2, 2, 3), np.float32)}, signature)


def test_an_empty_or_truncated_tflite_is_refused_in_one_line_naming_it(tmp_path, capsys):
    """An empty or truncated .tflite given to --model ended in a struct.error traceback."""
    from emorec.inference import cli

    model = models.build("wave_cnn1d", num_classes=7, frames=4)
    whole = open(export.export_tflite(model, str(tmp_path / "whole.tflite"), list(SEVEN)), "rb").read()
    clip = tmp_path / "speech.wav"
    synthetic.write_wav(str(clip), np.zeros(16000, np.float32), synthetic.SAMPLE_RATE)
    for name, content in (
        ("empty", b""),
        ("half", whole[: len(whole) // 2]),
        ("head", whole[:64]),
        ("noise", np.random.default_rng(0).bytes(5000)),
    ):
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(content)
        assert (
            errors.guarded(
                "emorec-predict", cli.main, [str(clip), "--model", str(path), "--out", str(tmp_path / "out")]
            )
            == 2
        ), name
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"emorec-predict: {path} "), line


def test_an_export_that_fails_part_way_leaves_no_version_and_says_so(tmp_path, monkeypatch):
    """A disk that fills while the SavedModel is written: no version folder (which TF Serving
    would try to load) and nothing half-written is left, and the refusal names the folder."""
    model = models.build("wave_cnn1d", num_classes=7, frames=4)
    save = tf.saved_model.save

    def full_disk(module, path, signatures):
        save(module, path, signatures=signatures)  # the variables and graph written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", full_disk)
    with pytest.raises(UserError, match=f"--export_dir {tmp_path}: .*No space left"):
        export.export(model, str(tmp_path), "audio", SEVEN, version=1)
    assert list((tmp_path / "audio").iterdir()) == []
    monkeypatch.undo()
    assert export.export(model, str(tmp_path), "audio", SEVEN) == str(tmp_path / "audio" / "1")
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["1"]


def test_every_client_is_the_one_interface_with_one_check(av_clients):
    """The SavedModel, TF Serving's two protocols and the Keras model in process are
    `clients.Client`s: a speaker's audio given to a model without speaker features is the same
    one line on each, naming what it runs, and a waveform out of range the same refusal."""
    from emorec import clients

    keras_model = serving.KerasModel(
        models.build("r3d+wave_cnn1d", frames=4, image_size=32, **NARROW_R3D), [f"class {i}" for i in range(8)]
    )
    for kind, client in {**av_clients, "keras": keras_model}.items():
        assert isinstance(client, clients.Client), kind
        with pytest.raises(UserError, match=f"{re.escape(client.describe())} takes no speaker statistics"):
            client.speaker_features(np.zeros((1, 16000), np.float32))
        loud = {
            "faces": np.zeros((1, *client.signature["faces"].shape[1:]), np.uint8),
            "waveform": np.full((1, client.signature["waveform"].shape[1]), 2.0, np.float32),
        }
        with pytest.raises(ValueError, match="waveform: expected float32 16 kHz samples in \\[-1, 1\\]"):
            client.predict(loud)
    with pytest.raises(TypeError):  # an implementation that does not predict is not a client
        type("Half", (clients.Client,), {"describe": lambda self: "half"})()
