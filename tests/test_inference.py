"""emorec-predict and the streaming predictors on small synthetic clips and the real ones."""

import json
import os
import subprocess

import numpy as np
import pytest
from conftest import ROOT, default_sigint, real_ravdess

from emorec import checks, errors, export, models, ravdess, synthetic
from emorec.errors import UserError
from emorec.inference import cli
from emorec.media import video
from emorec.media.features import FPS

CLASSES = ravdess.EMOTIONS


def predict(argv) -> int:
    """emorec-predict as its command runs it (`errors.guarded`): the exit status."""
    return errors.guarded("emorec-predict", cli.main, argv)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Untrained small models exported as TF Serving would serve them (4-frame windows)."""
    root = tmp_path_factory.mktemp("exports")
    built = {
        "av": models.build("resnet_lstm+mel_cnn2d", frames=4, image_size=32, backbone="small_cnn"),
        "video": models.build("resnet_lstm", frames=4, image_size=32, backbone="small_cnn"),
        "per_frame": models.build("per_frame", frames=4, image_size=32, backbone="small_cnn"),
    }
    return {name: export.export(model, str(root), name, CLASSES, version=1) for name, model in built.items()}


def _clip(path, seconds=1.0, with_audio=True, faceless_frames=0):
    clip = ravdess.parse(path.name)
    frames = synthetic.render_frames(clip, (160, 120), int(round(seconds * FPS)))
    frames[:faceless_frames] = 90  # a grey screen: no face to find
    synthetic.write_mp4(str(path), frames, synthetic.render_audio(clip, seconds) if with_audio else None)
    return str(path)


def _run(*argv):
    [result] = cli.run(cli.parse([str(a) for a in argv]))  # one input, one result
    return result


def test_queue_mode_writes_timeline_plot_and_annotated_video(exports, tmp_path):
    clip = _clip(tmp_path / "01-01-05-01-01-01-01.mp4")
    result = _run(clip, "--model", exports["av"], "--out", tmp_path / "out", "--annotate")
    rows = result["rows"]
    # 30 frames, windows of 4, a prediction every 2 frames from frame 3 on.
    assert [r["frame"] for r in rows] == list(range(3, 30, 2))
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-3 and r["label"] in CLASSES for r in rows)
    np.testing.assert_allclose([r["time"] for r in rows], np.arange(3, 30, 2) * 1001 / 30000, atol=2e-3)
    saved = json.loads(open(result["paths"]["json"]).read())
    assert saved["rows"] == rows and saved["window_frames"] == 4 and saved["frames"] == 30
    header = open(result["paths"]["csv"]).readline().strip().split(",")
    assert header == ["time", "frame", *CLASSES, "label", "face"]
    assert open(result["paths"]["plot"], "rb").read(4) == b"\x89PNG"
    annotated = video.decode(result["paths"]["video"])
    assert annotated["frames"].shape[0] == 30 and len(annotated["waveform"]) > 14000  # audio carried over


def test_per_frame_mode_gives_every_frame_a_row(exports, tmp_path):
    clip = _clip(tmp_path / "01-01-03-01-01-01-02.mp4")
    for model in ("av", "per_frame"):  # sliding windows, and a per-frame model's own rows
        rows = _run(clip, "--model", exports[model], "--mode", "per-frame", "--out", tmp_path / model)["rows"]
        assert [r["frame"] for r in rows] == list(range(30)), model


def test_frames_without_a_face_are_marked(exports, tmp_path):
    clip = _clip(tmp_path / "01-01-04-01-01-01-03.mp4", seconds=2.0, faceless_frames=30)
    rows = _run(clip, "--model", exports["av"], "--out", tmp_path / "out", "--stride", "4")["rows"]
    faces = [r["face"] for r in rows]
    assert faces[:5] == [False] * 5 and all(faces[-5:])


def test_no_audio_stream_names_the_video_only_way(exports, tmp_path, capsys):
    clip = _clip(tmp_path / "01-01-06-01-01-01-04.mp4", with_audio=False)
    assert predict([clip, "--model", exports["av"], "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "has no audio" in error and "video-only model" in error  # the message names the way out
    rows = _run(clip, "--model", exports["video"], "--out", tmp_path / "out")["rows"]
    assert len(rows) == 14


def test_variable_frame_rate_rows_carry_stream_times(exports, tmp_path):
    clip = _clip(tmp_path / "01-01-02-01-01-01-05.mp4", with_audio=False)
    vfr = tmp_path / "01-01-02-01-01-01-06.mp4"
    subprocess.run(
        [
            video.ffmpeg(),
            "-nostdin",
            "-v",
            "error",
            "-i",
            clip,
            "-vf",
            "setpts='if(lt(N,15),N,15+(N-15)*2)/(30*TB)'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(vfr),
        ],
        check=True,
    )
    rows = _run(vfr, "--model", exports["video"], "--mode", "per-frame", "--out", tmp_path / "out")["rows"]
    times = np.array([r["time"] for r in rows])
    assert np.diff(times[:14]).mean() == pytest.approx(1 / 30, rel=0.05)
    assert np.diff(times[16:]).mean() == pytest.approx(2 / 30, rel=0.05)


def test_a_camera_that_cannot_be_opened_is_said(exports, tmp_path, capsys):
    for index in ("7", "9" * 20):  # the second past what OpenCV's C int holds: a traceback
        assert predict([index, "--model", exports["av"], "--out", str(tmp_path)]) == 2
        assert f"camera {index} could not be opened" in capsys.readouterr().err


def test_both_real_clips(exports, tmp_path, capsys):
    clips = real_ravdess() / "clips"
    rows = _run(clips / "01-01-07-02-02-01-01.mp4", "--model", exports["av"], "--out", tmp_path)["rows"]
    assert len(rows) == (120 - 4) // 2 + 1 and all(r["face"] for r in rows)
    rows = _run(clips / "01-01-08-02-01-01-19.mp4", "--model", exports["video"], "--out", tmp_path)["rows"]
    assert len(rows) > 50 and sum(r["face"] for r in rows) > 0.8 * len(rows)
    assert predict([str(clips / "01-01-08-02-01-01-19.mp4"), "--model", exports["av"], "--out", str(tmp_path)]) == 2


def test_speaker_audio_sets_the_speakers_statistics(exports, tmp_path):
    clip = _clip(tmp_path / "01-01-05-01-01-01-03.mp4")
    other = _clip(tmp_path / "01-01-01-01-01-01-03.mp4", seconds=2.0)  # the same speaker, neutral
    own = _run(clip, "--model", exports["av"], "--out", tmp_path / "own")["rows"]
    given = _run(clip, "--model", exports["av"], "--out", tmp_path / "given", "--speaker_audio", other)["rows"]
    assert [r["frame"] for r in own] == [r["frame"] for r in given]
    # Other statistics, other normalised spectrograms: the untrained model's outputs move.
    assert any(abs(a["probabilities"][c] - b["probabilities"][c]) > 1e-4 for a, b in zip(own, given) for c in CLASSES)


def test_speaker_audio_for_a_model_without_speaker_statistics_is_refused_in_one_line(exports, tmp_path, capsys):
    """It was ignored without a word (a preset of faces alone, and any other such model)."""
    clip = _clip(tmp_path / "01-01-05-01-01-01-03.mp4")
    other = _clip(tmp_path / "01-01-01-01-01-01-03.mp4")
    for model in (["--preset", "fer2013_faces"], ["--model", exports["video"]]):
        out = tmp_path / model[0].strip("-")
        assert predict([clip, *model, "--speaker_audio", other, "--out", str(out)]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith("emorec-predict: --speaker_audio: ") and "takes no speaker statistics" in line, line
        assert model[0] == "--model" or not out.exists()  # a preset's is known before any work


def test_silent_speaker_audio_is_said_and_not_taken_as_the_speakers_speech(exports, tmp_path, capsys):
    """A digitally silent --speaker_audio was enrolled: its windows counted as the speaker heard,
    and its statistics (the floor's deviations) normalised the input."""
    clip = _clip(tmp_path / "01-01-05-01-01-01-03.mp4")
    silent = tmp_path / "silence.wav"
    synthetic.write_wav(str(silent), np.zeros(2 * synthetic.SAMPLE_RATE, np.float32), synthetic.SAMPLE_RATE)
    own = _run(clip, "--model", exports["av"], "--out", tmp_path / "own")
    capsys.readouterr()
    given = _run(clip, "--model", exports["av"], "--out", tmp_path / "given", "--speaker_audio", silent)
    err = capsys.readouterr().err
    assert f"note: --speaker_audio {silent}: silent audio (peak " in err and "every --speaker_audio was silent" in err
    assert given["rows"] == own["rows"] and given["meta"]["speaker"] == own["meta"]["speaker"]


def test_an_input_shorter_than_a_window_gets_the_padded_window_training_gives_it(exports, tmp_path):
    """Training and evaluation score a clip shorter than one window on that window padded (its
    last face repeated, silence after its audio); the predictor does the same at the end."""
    clip = _clip(tmp_path / "01-01-05-01-01-01-01.mp4", seconds=0.1)  # 3 frames, windows of 4
    rows = _run(clip, "--model", exports["av"], "--out", tmp_path / "out")["rows"]
    assert [r["frame"] for r in rows] == [2] and abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-3


def test_inputs_the_builder_would_doubt_are_predicted_with_a_note(exports, tmp_path, capsys):
    """A clip mostly padding, a silent one, one frame beside 4 s of audio: each is predicted,
    and the output says what the builder's rules say of it; a clean clip gets no note."""
    out = tmp_path / "out"
    clean = _run(_clip(tmp_path / "01-01-05-01-01-01-01.mp4"), "--model", exports["av"], "--out", out)
    assert clean["meta"]["notes"] == []
    short = _run(_clip(tmp_path / "01-01-05-01-01-01-02.mp4", seconds=0.04), "--model", exports["av"], "--out", out)
    [note] = short["meta"]["notes"]
    assert "short: 0.03 s, under one 0.13 s window: 75% of it is padding" in note and short["rows"]
    # Less than half a window of padding is ordinary (a 4.0 s clip in a 4.27 s window): no note.
    nearly = _run(_clip(tmp_path / "01-01-05-01-01-01-05.mp4", seconds=0.1), "--model", exports["av"], "--out", out)
    assert nearly["meta"]["notes"] == [] and nearly["rows"]
    silent = tmp_path / "03-01-05-01-01-01-03.mp4"
    synthetic.write_mp4(
        str(silent),
        synthetic.render_frames(ravdess.parse(silent.name), (160, 120), 30),
        np.zeros(synthetic.SAMPLE_RATE, np.float32),
    )
    assert [n.split(": ")[1] for n in _run(silent, "--model", exports["av"], "--out", out)["meta"]["notes"]] == [
        "silent audio"
    ]
    apart = tmp_path / "01-01-05-01-01-01-04.mp4"
    synthetic.write_mp4(
        str(apart),
        synthetic.render_frames(ravdess.parse(apart.name), (160, 120), 1),
        synthetic.render_audio(ravdess.parse(apart.name), 4.0),
    )
    result = _run(apart, "--model", exports["av"], "--out", out)
    assert [n.split(": ")[1] for n in result["meta"]["notes"]] == ["audio and video lengths differ", "short"]
    assert result["rows"] and "note: " + result["meta"]["notes"][0] in capsys.readouterr().err
    # What the model does not read is not judged: the video-only model hears no silence.
    assert _run(silent, "--model", exports["video"], "--out", out)["meta"]["notes"] == []


def test_a_file_named_like_a_camera_is_pointed_out(exports, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "0").write_bytes(b"")
    monkeypatch.setattr(cli, "open_input", lambda *a: (_ for _ in ()).throw(UserError("camera 0 could not be opened")))
    assert predict(["0", "--model", exports["av"], "--out", str(tmp_path / "out")]) == 2
    assert "note: 0 is read as camera 0; for the file of that name, write ./0" in capsys.readouterr().err


def test_ctrl_c_that_python_wraps_in_another_error_is_still_one_line(tmp_path):
    # As a SIGINT landing in a class's __set_name__ during matplotlib's import comes out.
    import sys

    (tmp_path / "wrapped_interrupt.py").write_text("raise RuntimeError('in __set_name__') from KeyboardInterrupt()\n")
    (tmp_path / "plain_error.py").write_text("raise RuntimeError('a real error')\n")
    ended = {}
    for module in ("wrapped_interrupt", "plain_error"):
        ended[module] = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; from emorec import commands; sys.exit(commands._run('emorec-predict', '{module}'))",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        )
    assert ended["wrapped_interrupt"].returncode == 130
    assert ended["wrapped_interrupt"].stderr.strip() == (
        "emorec-predict: stopped (Ctrl-C); what was written before stays"
    )
    assert ended["plain_error"].returncode == 1 and "RuntimeError: a real error" in ended["plain_error"].stderr
    assert ended["plain_error"].stderr.strip().endswith(f"please report it with the lines above at {errors.ISSUES}")


def test_ctrl_c_at_start_up_is_one_line(tmp_path):
    """SIGINT while the command is still importing TensorFlow, and while it works."""
    import signal
    import sys
    import time

    clip = _clip(tmp_path / "01-01-05-01-01-01-01.mp4")
    command = [
        sys.executable,
        "-c",
        "import sys; from emorec.commands import predict; sys.exit(predict())",
        clip,
        "--out",
        str(tmp_path / "out"),
    ]
    for wait in (0.3, 4.0):
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
        time.sleep(wait)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err
        # Said in its one line, after at most the progress bar of the work it stopped.
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines[-1] == "emorec-predict: stopped (Ctrl-C); what was written before stays", (wait, err)
        assert all(line.startswith("faces:") for line in lines[:-1]), (wait, err)


SEVEN = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")


@pytest.fixture(scope="module")
def seven_class_audio(tmp_path_factory):
    model = models.build("wave_cnn1d", num_classes=7, frames=4)
    return export.export(model, str(tmp_path_factory.mktemp("exports")), "audio", SEVEN, version=1)


def test_an_audio_file_runs_through_an_audio_only_model_with_the_exports_classes(seven_class_audio, tmp_path):
    clip = ravdess.Clip(3, 1, 5, 1, 1, 1, 1)
    path = tmp_path / clip.name(".wav")
    synthetic.write_wav(str(path), synthetic.render_audio(clip, 1.0), synthetic.SAMPLE_RATE)
    result = _run(path, "--model", seven_class_audio, "--out", tmp_path / "out")
    assert [r["frame"] for r in result["rows"]] == list(range(3, 29, 2))  # 29 frames of 1/29.97 s
    assert open(result["paths"]["csv"]).readline().strip().split(",") == ["time", "frame", *SEVEN, "label", "face"]
    assert {r["label"] for r in result["rows"]} <= set(SEVEN)
    for extension in ("flac", "mp3"):  # the same speech re-encoded: about the same rows
        other = tmp_path / f"speech.{extension}"
        subprocess.run([video.ffmpeg(), "-v", "error", "-i", str(path), str(other)], check=True)
        rows = _run(other, "--model", seven_class_audio, "--out", tmp_path / "out")["rows"]
        assert [r["frame"] for r in rows][: len(result["rows"])] == [r["frame"] for r in result["rows"]], extension
        if extension == "flac":  # lossless but 16-bit
            np.testing.assert_allclose(
                [list(r["probabilities"].values()) for r in rows],
                [list(r["probabilities"].values()) for r in result["rows"]],
                atol=1e-2,
            )


def test_class_names_come_from_the_served_export_over_rest_and_grpc(seven_class_audio, tmp_path):
    import serving_standin

    clip = ravdess.Clip(3, 1, 5, 1, 1, 1, 1)
    path = tmp_path / clip.name(".wav")
    synthetic.write_wav(str(path), synthetic.render_audio(clip, 1.0), synthetic.SAMPLE_RATE)
    local = _run(path, "--model", seven_class_audio, "--out", tmp_path / "local")["rows"]
    with (
        serving_standin.rest(seven_class_audio, "audio") as rest_port,
        serving_standin.grpc_server(seven_class_audio, "audio") as grpc_port,
    ):
        for protocol in ("rest", "grpc"):
            served = _run(
                path,
                "--serving",
                "127.0.0.1",
                "--serving_model",
                "audio",
                "--protocol",
                protocol,
                "--rest_port",
                rest_port if protocol == "rest" else 1,
                "--grpc_port",
                grpc_port,
                "--out",
                tmp_path / protocol,
            )["rows"]
            assert [r["label"] for r in served] == [r["label"] for r in local], protocol
            assert list(served[0]["probabilities"]) == list(SEVEN)


def test_refusals_come_before_any_work_in_one_line(seven_class_audio, tmp_path, capsys):
    missing = tmp_path / "nowhere.mp4"
    assert predict([str(missing), "--model", seven_class_audio, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"emorec-predict: {missing}: no such file"
    blocker = tmp_path / "a file"
    blocker.write_text("")
    clip = _clip(tmp_path / "01-01-05-01-01-01-01.mp4")
    assert predict([clip, "--model", seven_class_audio, "--out", str(blocker / "out")]) == 2
    assert capsys.readouterr().err.strip().startswith(f"emorec-predict: --out {blocker / 'out'} cannot be written to")
    assert (
        predict([clip, "--model", seven_class_audio, "--out", ""]) == 2
    )  # "--out  cannot be written to (No such ...)"
    assert capsys.readouterr().err.strip() == "emorec-predict: --out: an empty path: give a folder"
    assert (
        predict(
            [
                clip,
                "--serving",
                "127.0.0.1",
                "--serving_model",
                "audio",
                "--rest_port",
                "1",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("emorec-predict: TF Serving model 'audio' at 127.0.0.1:1 (rest) does not answer")
    assert "\n" not in err


@pytest.mark.parametrize(
    "option, value, says",
    [
        ("--smoothing", "1.5", "must be in [0, 1)"),
        ("--smoothing", "1", "must be in [0, 1)"),
        ("--smoothing", "-0.1", "must be in [0, 1)"),
        ("--smoothing", "nan", "must be in [0, 1)"),
        ("--max_width", "-5", "must be at least 1 pixel"),
        ("--max_width", "0", "must be at least 1 pixel"),
        ("--max_frames", "-1", "must be at least 1"),
        ("--max_frames", "0", "must be at least 1"),
        ("--stride", "0", "must be at least 1 frame"),
        ("--detect_every", "-2", "must be at least 1"),
        ("--rest_port", "70000", "must be a port, 1 to 65535"),
        ("--grpc_port", "0", "must be a port, 1 to 65535"),
    ],
)
def test_option_values_out_of_range_are_refused_in_one_line_before_any_work(tmp_path, capsys, option, value, says):
    """`--smoothing 1.5` wrote "probabilities" from 3.42 to -2.98; `--max_width 0` fell back to
    the default width unsaid."""
    with pytest.raises(SystemExit) as refused:
        predict([str(tmp_path / "clip.mp4"), option, value, "--out", str(tmp_path / "out")])
    assert refused.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"emorec-predict: {option} ") and f": {says}" in line, line
    assert not (tmp_path / "out").exists()


def test_inputs_with_one_base_name_keep_their_own_outputs(seven_class_audio, tmp_path):
    first, second = tmp_path / "a" / "03-01-05-01-01-01-01.wav", tmp_path / "b" / "03-01-05-01-01-01-01.wav"
    for path, seconds in ((first, 1.0), (second, 2.0)):
        path.parent.mkdir()
        synthetic.write_wav(str(path), synthetic.render_audio(ravdess.parse(path.name), seconds), synthetic.SAMPLE_RATE)
    one = _run(first, "--model", seven_class_audio, "--out", tmp_path / "out")
    two = _run(second, "--model", seven_class_audio, "--out", tmp_path / "out")
    again = _run(first, "--model", seven_class_audio, "--out", tmp_path / "out")  # a rerun replaces its own
    assert two["paths"]["json"].endswith("03-01-05-01-01-01-01-2.timeline.json")
    assert again["paths"]["json"] == one["paths"]["json"]
    assert json.loads(open(two["paths"]["json"]).read())["input"] == str(second)
    assert json.loads(open(one["paths"]["json"]).read())["input"] == str(first)


def test_a_stopped_run_keeps_the_rows_it_had(exports, tmp_path):
    """Ctrl-C (how a camera run ends) mid-file: the CSV already holds the rows so far, and the
    JSON, plot and summary are still written, marked stopped."""
    import signal
    import sys
    import time

    clip = _clip(tmp_path / "01-01-05-01-01-01-01.mp4", seconds=20.0)  # 300 rows, were it not stopped
    process = subprocess.Popen(
        [sys.executable, "-m", "emorec.inference.cli", clip, "--model", exports["av"], "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    csv_path = tmp_path / "out" / "01-01-05-01-01-01-01.timeline.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (csv_path.exists() and len(csv_path.read_text().splitlines()) > 20):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    saved = json.loads((tmp_path / "out" / "01-01-05-01-01-01-01.timeline.json").read_text())
    assert saved["stopped"] and 20 <= len(saved["rows"]) < 290
    assert len(csv_path.read_text().splitlines()) == len(saved["rows"]) + 1


def test_the_predictor_sees_the_windows_training_sees(tmp_path):
    """One clip through the dataset pipeline (build, evaluation windows) and through
    emorec-predict's (the export's face pipeline, boxes found ahead over the file, the same
    resize): the waveforms agree to 1e-6; the faces differ only by the builder's JPEG
    storage (quality 95): mean absolute difference under 1.5 of 255, 99% of pixels within 5
    (measured here: 1.24, 4; the largest 9)."""
    import tensorflow_datasets as tfds

    from datasets.ravdess import ravdess_dataset_builder
    from emorec import serving
    from emorec.data import windows
    from emorec.inference import Predictor, open_input, run_stream
    from emorec.media import faces

    clip = ravdess.Clip(1, 1, 5, 1, 1, 1, 1)
    synthetic.make_sample(str(tmp_path / "sample"), [clip], duration=2.0, size=(320, 240))
    builder = ravdess_dataset_builder.Builder(data_dir=str(tmp_path / "data"), config="av")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "sample")))
    model = models.build("resnet_lstm+wave_cnn1d", frames=8, image_size=64, backbone="small_cnn")
    spec = windows.WindowSpec.for_model(model, 8)
    trained = [x for x, _, _ in tfds.as_numpy(windows.eval_dataset(builder, "actor_01", spec, batch_size=64))][0]
    local = serving.LocalModel(
        export.export(
            model,
            str(tmp_path / "exports"),
            "av",
            CLASSES,
            version=1,
            metadata={"face_pipeline": builder.info.metadata["face_pipeline"]},
        )
    )
    seen = []

    class Recorder:  # the export, with a record of what it was given
        signature = local.signature

        def predict(self, inputs):
            seen.append(inputs)
            return local.predict(inputs)

    pipeline = faces.FacePipeline.from_dict(checks.read_export_info(local)["face_pipeline"])
    source = open_input(
        str(tmp_path / "sample" / "Actor_01" / clip.name(".mp4")), pipeline.decode_width, pipeline.fast_decode
    )
    predictor = Predictor(
        Recorder(),
        CLASSES,
        "queue",
        waveform=source.waveform,
        pipeline=pipeline,
        tracked=cli.track_ahead(source, pipeline),
    )
    run_stream(predictor, source.frames)
    served = {k: np.concatenate([s[k] for s in seen]) for k in seen[0]}
    assert len(served["faces"]) == len(trained["faces"]) == (60 - 8) // 4 + 1
    np.testing.assert_allclose(served["waveform"], trained["waveform"], atol=1e-6)
    difference = np.abs(served["faces"].astype(int) - trained["faces"].astype(int))
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 5, (difference.mean(), difference.max())


def test_every_entry_of_a_folder_is_predicted_or_said_by_name(seven_class_audio, tmp_path, capsys):
    """A folder input passed over, without a word, a nested sub-folder and .flv, .3gp, .mts files
    (a single .flv predicted fine)."""
    folder = tmp_path / "speaker"
    (folder / "later").mkdir(parents=True)
    wav = folder / "03-01-05-01-01-01-01.wav"
    synthetic.write_wav(str(wav), synthetic.render_audio(ravdess.parse(wav.name), 1.0), synthetic.SAMPLE_RATE)
    for extension, container in (("flv", "flv"), ("3gp", "3gp"), ("mts", "mpegts"), ("MKV", "matroska")):
        subprocess.run(
            [
                video.ffmpeg(),
                "-v",
                "error",
                "-i",
                str(wav),
                "-c:a",
                "aac",
                "-f",
                container,
                str(folder / f"{extension}.{extension}"),
            ],
            check=True,
        )
    (folder / "notes.txt").write_text("not a clip")
    assert predict([str(folder), "--model", seven_class_audio, "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    predicted = [json.loads(p.read_text())["input"] for p in sorted((tmp_path / "out").glob("*.timeline.json"))]
    assert sorted(predicted) == sorted(
        str(folder / name) for name in ("03-01-05-01-01-01-01.wav", "3gp.3gp", "MKV.MKV", "flv.flv", "mts.mts")
    )
    assert [line.split(": ")[:2] for line in err.splitlines() if line.startswith("note: ")] == [
        ["note", str(folder / "later")],
        ["note", str(folder / "notes.txt")],
    ]
    assert "a sub-folder (its files are not searched" in err and "notes.txt: not an audio, video or photo file" in err


def test_a_folder_of_crema_d_flv_clips_is_predicted(exports, tmp_path, capsys):
    """It was "a folder with no audio or video file"; its README is said and passed over."""
    folder = real_ravdess().parent / "crema-d"
    if not folder.is_dir():
        pytest.skip(f"no CREMA-D sample at {folder}")
    assert predict([str(folder), "--model", exports["av"], "--max_frames", "8", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert len(list(tmp_path.glob("*_XX.timeline.json"))) == 6
    assert f"note: {folder / 'README.md'}: not an audio, video or photo file" in err


def test_a_folder_annotated_carries_each_clips_own_sound(exports, tmp_path, capsys):
    """ffmpeg was handed the folder as the annotated video's audio: "Broken pipe", and nothing written."""
    folder = tmp_path / "speaker"
    folder.mkdir()
    clips = [_clip(folder / f"01-01-05-01-01-01-0{i}.mp4") for i in (1, 2)]
    assert predict([str(folder), "--model", exports["av"], "--annotate", "--out", str(tmp_path / "out")]) == 0
    assert "Broken pipe" not in capsys.readouterr().err
    for clip in clips:
        annotated = video.decode(str(tmp_path / "out" / os.path.basename(clip).replace(".mp4", ".annotated.mp4")))
        assert annotated["frames"].shape[0] == 30 and len(annotated["waveform"]) > 14000


def test_a_missing_or_corrupt_speaker_audio_is_said_once_naming_the_option(exports, tmp_path, capsys):
    """With a folder input, it came out as ffmpeg's words for a file, not as the option's fault."""
    folder = tmp_path / "speaker"
    folder.mkdir()
    for i in (1, 2):
        _clip(folder / f"01-01-05-01-01-01-0{i}.mp4")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(3000))
    for given, says in (
        (tmp_path / "nowhere.wav", "no such file"),
        (corrupt, "could not be read as audio ("),
        (folder, f"a folder, not a file: give the files in it (e.g. {folder / '*.wav'})"),  # was "a FIFO, socket"
    ):
        assert (
            predict(
                [str(folder), "--model", exports["av"], "--speaker_audio", str(given), "--out", str(tmp_path / "out")]
            )
            == 2
        )
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"emorec-predict: --speaker_audio {given}: {says}") and line.endswith(
            "give another recording of the speaker, or leave it out"
        ), line
    assert not list((tmp_path / "out").iterdir())  # before any input is read


def test_a_fifo_is_refused_in_one_line_as_an_input_and_in_a_folder(seven_class_audio, tmp_path, capsys):
    """A FIFO was said to be "no such file", as an input and in a folder."""
    folder = tmp_path / "speaker"
    folder.mkdir()
    fifo = folder / "stream.wav"
    os.mkfifo(fifo)
    assert predict([str(fifo), "--model", seven_class_audio, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"emorec-predict: {fifo}: not a regular file (a FIFO, socket or device): save the stream to a file first, "
        "or give a camera by its index"
    ]
    wav = folder / "03-01-05-01-01-01-01.wav"
    synthetic.write_wav(str(wav), synthetic.render_audio(ravdess.parse(wav.name), 1.0), synthetic.SAMPLE_RATE)
    assert predict([str(folder), "--model", seven_class_audio, "--out", str(tmp_path / "out")]) == 0
    assert f"note: {fifo}: not a regular file (a FIFO, socket or device)" in capsys.readouterr().err


def test_a_file_name_that_is_not_utf8_is_predicted_and_the_folder_goes_on(seven_class_audio, tmp_path, capsys):
    """Its plot's title was a 91-line matplotlib traceback, which also stopped the rest of the folder."""
    folder = tmp_path / "speaker"
    folder.mkdir()
    clip = ravdess.parse("03-01-05-01-01-01-01.wav")
    latin1 = os.fsdecode(b"caf\xe9.wav")
    for name in (latin1, "zz.wav"):
        synthetic.write_wav(str(folder / name), synthetic.render_audio(clip, 1.0), synthetic.SAMPLE_RATE)
    assert predict([str(folder), "--model", seven_class_audio, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")  # what a UTF-8 terminal can print (a lone surrogate cannot be)
    assert "caf\\xe9.wav: " in out and "zz.wav: " in out
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        f"{stem}.timeline.{kind}" for stem in (os.fsdecode(b"caf\xe9"), "zz") for kind in ("csv", "json", "png")
    )


def test_the_annotated_video_shows_the_timelines_prediction_from_the_first_frame(exports, tmp_path, monkeypatch):
    """A clip shorter than one window (predicted only at its end) was drawn "..." on every
    frame, and a longer one on each frame before its first window was complete."""
    from emorec.inference import outputs

    drawn = []
    # Each text is drawn twice, its dark outline then itself: one entry a frame.
    monkeypatch.setattr(
        outputs.cv2,
        "putText",
        lambda frame, text, org, font, scale, colour, *a, **k: colour == (255, 255, 255) and drawn.append(text),
    )
    for seconds, count in ((0.1, 3), (1.0, 30)):  # windows of 4 frames
        drawn.clear()
        clip = _clip(tmp_path / f"01-01-05-01-01-01-0{count % 10 + 1}.mp4", seconds=seconds)
        result = _run(clip, "--model", exports["av"], "--annotate", "--out", tmp_path / "out")
        first = result["rows"][0]
        shown = f"{first['label']} {max(first['probabilities'].values()):.0%}"
        assert len(drawn) == count and drawn[:4] == [shown] * min(count, 4), (drawn, shown)
        assert video.decode(result["paths"]["video"])["frames"].shape[0] == count
