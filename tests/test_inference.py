"""emorec-predict and the streaming predictors on small synthetic clips and the real ones."""
import json
import subprocess

import numpy as np
import pytest

from emorec import export, models, ravdess, synthetic
from emorec.inference import cli
from emorec.media import video

from conftest import real_ravdess

CLASSES = ravdess.EMOTIONS


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
    frames = synthetic.render_frames(clip, (160, 120), int(round(seconds * ravdess.FPS)))
    frames[:faceless_frames] = 90  # a grey screen: no face to find
    synthetic.write_mp4(str(path), frames, synthetic.render_audio(clip, seconds) if with_audio else None)
    return str(path)


def _run(*argv):
    return cli.run(cli.parse([str(a) for a in argv]))


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
    assert cli.main([clip, "--model", exports["av"], "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "has no audio" in error and "video-only model" in error  # the message names the way out
    rows = _run(clip, "--model", exports["video"], "--out", tmp_path / "out")["rows"]
    assert len(rows) == 14


def test_variable_frame_rate_rows_carry_stream_times(exports, tmp_path):
    clip = _clip(tmp_path / "01-01-02-01-01-01-05.mp4", with_audio=False)
    vfr = tmp_path / "01-01-02-01-01-01-06.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", clip, "-vf",
                    "setpts='if(lt(N,15),N,15+(N-15)*2)/(30*TB)'", "-fps_mode", "passthrough",
                    "-c:v", "libx264", "-preset", "ultrafast", str(vfr)], check=True)
    rows = _run(vfr, "--model", exports["video"], "--mode", "per-frame", "--out", tmp_path / "out")["rows"]
    times = np.array([r["time"] for r in rows])
    assert np.diff(times[:14]).mean() == pytest.approx(1 / 30, rel=0.05)
    assert np.diff(times[16:]).mean() == pytest.approx(2 / 30, rel=0.05)


def test_a_camera_that_cannot_be_opened_is_said(exports, tmp_path, capsys):
    assert cli.main(["7", "--model", exports["av"], "--out", str(tmp_path)]) == 2
    assert "camera 7 could not be opened" in capsys.readouterr().err


def test_both_real_clips(exports, tmp_path, capsys):
    clips = real_ravdess() / "clips"
    rows = _run(clips / "01-01-07-02-02-01-01.mp4", "--model", exports["av"], "--out", tmp_path)["rows"]
    assert len(rows) == (120 - 4) // 2 + 1 and all(r["face"] for r in rows)
    rows = _run(clips / "01-01-08-02-01-01-19.mp4", "--model", exports["video"], "--out", tmp_path)["rows"]
    assert len(rows) > 50 and sum(r["face"] for r in rows) > 0.8 * len(rows)
    assert cli.main([str(clips / "01-01-08-02-01-01-19.mp4"), "--model", exports["av"], "--out", str(tmp_path)]) == 2


def test_speaker_audio_sets_the_speakers_statistics(exports, tmp_path):
    clip = _clip(tmp_path / "01-01-05-01-01-01-03.mp4")
    other = _clip(tmp_path / "01-01-01-01-01-01-03.mp4", seconds=2.0)  # the same speaker, neutral
    own = _run(clip, "--model", exports["av"], "--out", tmp_path / "own")["rows"]
    given = _run(clip, "--model", exports["av"], "--out", tmp_path / "given", "--speaker_audio", other)["rows"]
    assert [r["frame"] for r in own] == [r["frame"] for r in given]
    # Other statistics, other normalised spectrograms: the untrained model's outputs move.
    assert any(abs(a["probabilities"][c] - b["probabilities"][c]) > 1e-4 for a, b in zip(own, given) for c in CLASSES)


def test_an_input_shorter_than_a_window_gets_the_padded_window_training_gives_it(exports, tmp_path):
    """Training and evaluation score a clip shorter than one window on that window padded (its
    last face repeated, silence after its audio); the predictor does the same at the end."""
    clip = _clip(tmp_path / "01-01-05-01-01-01-01.mp4", seconds=0.1)  # 3 frames, windows of 4
    rows = _run(clip, "--model", exports["av"], "--out", tmp_path / "out")["rows"]
    assert [r["frame"] for r in rows] == [2] and abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-3
