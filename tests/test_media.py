import os
import subprocess
import time

import numpy as np
import pytest
from conftest import real_ravdess

from emorec import ravdess, synthetic
from emorec.media import audio, clip_features, faces, features, video
from emorec.media.features import FPS


def _clip(tmp_path, size=(640, 480), seconds=1.0, with_audio=True, name="01-01-05-01-01-01-03.mp4"):
    clip = ravdess.parse(name)
    frames = synthetic.render_frames(clip, size, int(round(seconds * FPS)))
    path = str(tmp_path / name)
    synthetic.write_mp4(path, frames, synthetic.render_audio(clip, seconds) if with_audio else None)
    return path


def test_decode_gives_frames_timestamps_and_16k_audio_in_one_pass(tmp_path):
    # 640x480 makes ffmpeg list the video pipe before the audio output in its log.
    media = video.decode(_clip(tmp_path), max_width=320)
    assert media["frames"].shape == (30, 240, 320, 3) and media["frames"].dtype == np.uint8
    np.testing.assert_allclose(np.diff(media["timestamps"]), 1001 / 30000, rtol=1e-3)
    assert media["timestamps"][0] == 0 and media["fps"] == pytest.approx(29.97, abs=0.01)
    assert abs(len(media["waveform"]) - 16000) < 200  # 1 s resampled from 48 kHz


def test_variable_frame_rate_keeps_its_own_timeline(tmp_path):
    source = _clip(tmp_path, size=(160, 120), with_audio=False)
    vfr = str(tmp_path / "vfr.mp4")
    # Frame n is shown at n * 33 ms for the first half, then at twice the spacing.
    subprocess.run(
        [
            video.ffmpeg(),
            "-nostdin",
            "-v",
            "error",
            "-i",
            source,
            "-vf",
            "setpts='if(lt(N,15),N,15+(N-15)*2)/(30*TB)'",
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            vfr,
        ],
        check=True,
    )
    t = video.decode(vfr, with_audio=False)["timestamps"]
    assert len(t) == 30
    steps = np.diff(t)
    assert steps[:14].mean() == pytest.approx(1 / 30, rel=0.05)
    assert steps[16:].mean() == pytest.approx(2 / 30, rel=0.05)


def test_missing_audio_and_undecodable_files_say_why(tmp_path):
    with pytest.raises(video.MediaError) as error:
        video.decode(_clip(tmp_path, size=(160, 120), with_audio=False))
    assert error.value.reason == "no audio stream"
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(video.MediaError) as error:
        video.decode(str(bad))
    assert error.value.reason == "undecodable"


def test_words_in_a_path_are_not_read_as_ffmpegs_verdict(tmp_path):
    """ffmpeg's log echoes its input's name: a folder called "partial file recovery" once made
    a good clip damaged, "Duration: 00:10:00.00" in a name made it truncated, and "take:" was
    taken for a protocol."""
    from emorec.inference import sources

    folder = tmp_path / "partial file recovery"
    folder.mkdir()
    good = _clip(folder, size=(160, 120))
    named = folder / "take:2 Duration: 00:10:00.00 Invalid data found.mp4"
    named.write_bytes(open(good, "rb").read())
    for path in (good, str(named)):
        media = video.decode(path)
        assert len(media["frames"]) == 30 and abs(len(media["waveform"]) - 16000) < 200
        source = sources.open_file(path)
        assert source.has_video and len(list(source.frames)) == 30
    bad = folder / "take:3.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(video.MediaError, match="undecodable") as error:
        video.decode(str(bad))
    assert str(bad) in str(error.value) and "input.mp4" not in str(error.value)


def test_a_clip_cut_short_is_damaged_not_a_shorter_clip(tmp_path):
    """The first half of an mp4 whose index comes first (as RAVDESS's originals): ffmpeg
    decodes what is there, logs the damage and exits 0; decode refuses it."""
    whole = str(tmp_path / "whole.mp4")
    subprocess.run(
        [
            video.ffmpeg(),
            "-nostdin",
            "-v",
            "error",
            "-i",
            _clip(tmp_path, size=(320, 240), seconds=3.0),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            whole,
        ],
        check=True,
    )
    assert len(video.decode(whole)["frames"]) == 90
    cut = tmp_path / "cut.mp4"
    data = open(whole, "rb").read()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(video.MediaError) as error:
        video.decode(str(cut))
    assert error.value.reason in ("damaged", "truncated") and "cut.mp4" in error.value.detail


def test_real_clips(tmp_path):
    clips = real_ravdess() / "clips"
    media = video.decode(str(clips / "01-01-07-02-02-01-01.mp4"))
    assert media["frames"].shape[0] == 120 and media["fps"] == pytest.approx(29.97, abs=0.01)
    assert abs(len(media["waveform"]) - 4.0 * 16000) < 800
    crops, boxes, detected, examined = faces.face_crops(media["frames"], 112, every=2)
    assert detected[examined].mean() > 0.9
    # The face sits in the middle of the frame, in every frame.
    width = media["frames"].shape[2]
    assert np.all(np.abs(boxes[:, 0] - width / 2) < width / 4)
    with pytest.raises(video.MediaError, match="no audio stream"):
        video.decode(str(clips / "01-01-08-02-01-01-19.mp4"))
    assert video.decode(str(clips / "01-01-08-02-01-01-19.mp4"), with_audio=False)["frames"].shape[0] > 100


def test_load_audio_resamples_a_48k_wav(tmp_path):
    clip = ravdess.Clip(3, 1, 3, 1, 1, 1, 1)
    path = str(tmp_path / clip.name(".wav"))
    synthetic.write_wav(path, synthetic.render_audio(clip, 2.0), 48000)
    waveform = audio.load_audio(path)
    assert waveform.dtype == np.float32 and len(waveform) == 32000
    spectrum = np.abs(np.fft.rfft(waveform))
    peak = np.fft.rfftfreq(len(waveform), 1 / 16000)[spectrum.argmax()]
    assert peak == pytest.approx(synthetic.EMOTION_PITCH_HZ[2], rel=0.06)  # the pitch survives


def test_log_mel_timeline():
    waveform = np.zeros(16000, np.float32)
    waveform[8000:8160] = 0.5  # a click at 0.5 s
    mel = features.log_mel(waveform).numpy()
    assert mel.shape == (100, features.NUM_MELS) == (features.num_mel_frames(16000), features.NUM_MELS)
    loudest = mel.mean(1).argmax()
    assert 48 <= loudest <= 50  # frame j starts at j * 10 ms (and spans 25 ms)
    assert features.window_samples(16, 30000 / 1001) == 8542  # 16 / 29.97 s = 8541.9 samples


def test_log_mel_first_traced_in_a_graph_equals_eager():
    import tensorflow as tf

    waveform = np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)
    features._mel_matrix.cache_clear()  # the filterbank is first made while tracing
    traced = tf.function(features.log_mel)(tf.constant(waveform)).numpy()
    eager = features.log_mel(waveform).numpy()
    np.testing.assert_array_equal(traced, eager)


def test_speaker_statistics_standardise_every_band_over_the_speakers_clips():
    from emorec.models.layers import SpeakerNorm

    rng = np.random.default_rng(0)
    low, high = rng.normal(0, 0.05, 16000), rng.normal(0, 0.5, 24000)  # a quiet and a loud clip
    mels = [features.log_mel(w.astype(np.float32)).numpy() for w in (low, high)]
    stats = features.speaker_statistics(mels)
    assert stats.shape == (2, features.NUM_MELS)
    together = np.concatenate([SpeakerNorm()([m[None], stats[None]]).numpy()[0] for m in mels])
    np.testing.assert_allclose(together.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(together.std(0), 1, atol=1e-2)
    # The loud clip stays louder than the speaker's average: what per-clip standardisation loses.
    assert SpeakerNorm()([mels[1][None], stats[None]]).numpy().mean() > 0.5
    with pytest.raises(ValueError, match="at least one"):
        features.speaker_statistics([np.zeros((0, features.NUM_MELS))])


class _Scripted:
    """A detector that finds a face only where told to."""

    def __init__(self, boxes):
        self.boxes, self.calls = boxes, 0

    def __call__(self, frame):
        box = self.boxes.get(int(frame[0, 0, 0]))
        self.calls += 1
        return np.array([box], np.float32) if box else np.zeros((0, 4), np.float32)


def test_track_interpolates_between_detections_and_counts_them():
    frames = np.zeros((9, 40, 40, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(9)  # the scripted detector reads the frame number here
    detector = _Scripted({0: (0, 0, 10, 10), 8: (16, 0, 10, 10)})  # a face moving right
    boxes, detected, examined = faces.track(frames, detector, every=2, smooth=1)
    assert detector.calls == 5 and examined.tolist() == [True, False] * 4 + [True]
    assert detected.tolist() == [True] + [False] * 7 + [True]
    np.testing.assert_allclose(boxes[:, 0], 5 + 2 * np.arange(9))  # centre x, interpolated
    with pytest.raises(video.MediaError, match="no face"):
        faces.track(frames, _Scripted({}))


def test_crop_is_square_centred_and_padded_at_the_border():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[40:60, 40:60] = 255
    centred = faces.crop(frame, (50, 50, 20), size=32, margin=1.0)
    assert centred.shape == (32, 32, 3) and centred[4:28, 4:28].min() == 255
    # A box on the corner: the crop's part outside the frame repeats the frame's border
    # pixels (not black), and the part inside is the frame, scaled.
    ramp = np.zeros((100, 100, 3), np.uint8)
    ramp[..., 0] = 50 + 2 * np.arange(100)[None, :]  # red grows to the right from 50
    ramp[..., 1] = 50 + 2 * np.arange(100)[:, None]  # green grows downwards from 50
    edge = faces.crop(ramp, (0, 0, 40), size=40, margin=1.0)  # x and y from -20 to 20, 1 pixel each
    assert edge.shape == (40, 40, 3)
    assert np.all(np.abs(edge[:, :19, 0].astype(int) - 50) <= 1) and np.all(
        np.abs(edge[:19, :, 1].astype(int) - 50) <= 1
    )
    np.testing.assert_allclose(edge[25, 21:39, 0], 50 + 2 * np.arange(1, 19), atol=2)
    np.testing.assert_allclose(edge[21:39, 25, 1], 50 + 2 * np.arange(1, 19), atol=2)


def test_threads_keep_order_and_run_only_a_bounded_way_ahead():
    started = []

    def work(i):
        started.append(i)
        return i * i

    taken = []
    for result in clip_features.map_in_threads(work, range(40), workers=2, ahead=3):
        taken.append(result)
        time.sleep(0.002)  # a consumer slower than the workers
        assert len(started) <= len(taken) + 2 * 3
    assert taken == [i * i for i in range(40)]


def test_stderr_outlasts_two_threads_silencing_native_logs_at_once(tmp_path):
    """The builder's worker threads each make a face detector inside `quiet_native_logs`: the
    one whose redirect ends last must not leave stderr on /dev/null, and a line printed meanwhile
    in `visible_stderr` (Ctrl-C's) must not be lost in another thread's redirect."""
    import sys

    script = (
        "import sys, threading, time\n"
        "from emorec import quiet_native_logs, visible_stderr\n"
        "def silent(start, hold):\n"
        "    time.sleep(start)\n"
        "    with quiet_native_logs():\n"
        "        time.sleep(hold)\n"
        "threads = [threading.Thread(target=silent, args=a) for a in ((0, 0.4), (0.1, 0.6))]\n"
        "for t in threads: t.start()\n"
        "time.sleep(0.2)\n"
        "with visible_stderr(): print('said while a thread is silenced', file=sys.stderr)\n"
        "for t in threads: t.join()\n"
        "print('said after', file=sys.stderr)\n"
    )
    with open(tmp_path / "stderr", "w") as stderr:
        subprocess.run(
            [sys.executable, "-c", script], stderr=stderr, check=True, env={**os.environ, "EMOREC_LIBRARY_LOGS": "0"}
        )
    assert (tmp_path / "stderr").read_text().splitlines() == ["said while a thread is silenced", "said after"]
