import hashlib
import re
import subprocess
import wave

import cv2
import numpy as np
import pytest

from emorec import ravdess, synthetic
from emorec.media import video


def _streams(path):
    """{'video': ffmpeg's description of the stream, 'audio': ...} and the container's seconds."""
    log = subprocess.run([video.ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    streams = {kind.lower(): text for kind, text in re.findall(r"Stream #0:\d+.*?: (Video|Audio): (.*)", log)}
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", log).groups()
    return streams, int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _centre_colour(path):
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read()
    assert ok, path
    h, w = frame.shape[:2]
    return frame[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].reshape(-1, 3).mean(0)


def _wav(path):
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 48000)
        return np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / 32768


def test_sample_is_named_and_encoded_like_ravdess(sample_dir):
    scan = ravdess.scan(str(sample_dir))
    assert not scan.skipped
    assert len(scan.sources) == 2 * 3 * 2  # actors x emotions x (audio-video, audio-only)
    clip = next(s.path for s in scan.sources if s.clip.modality == 1)
    streams, seconds = _streams(clip)
    assert streams["video"].startswith("h264") and " 29.97 fps" in streams["video"]
    assert " 48000 Hz" in streams["audio"]
    assert 0.9 < seconds < 1.1


def test_each_emotion_has_a_cue_that_carries_across_actors(sample_dir):
    scan = ravdess.scan(str(sample_dir))
    for modality, feature in ((1, _centre_colour), (3, lambda p: _dominant_pitch(_wav(p)))):
        by_actor = {
            a: {
                s.clip.emotion: np.atleast_1d(feature(s.path))
                for s in scan.sources
                if s.clip.modality == modality and s.clip.actor == a
            }
            for a in (1, 2)
        }
        # Nearest centroid fitted on actor 1 names every emotion of actor 2.
        for emotion, x in by_actor[2].items():
            nearest = min(by_actor[1], key=lambda e: np.linalg.norm(by_actor[1][e] - x))
            assert nearest == emotion, (modality, emotion)


def _dominant_pitch(x, rate=48000):
    spectrum = np.abs(np.fft.rfft(x))
    return np.log(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def test_audio_pitch_is_the_emotions(tmp_path):
    clip = ravdess.Clip(3, 1, 5, 1, 1, 1, 3)
    x = synthetic.render_audio(clip, duration=2.0)
    assert np.exp(_dominant_pitch(x)) == pytest.approx(synthetic.EMOTION_PITCH_HZ[4], rel=0.06)
    assert np.abs(x[: int(0.3 * 48000)]).max() < 0.02  # leading silence, as in RAVDESS


def test_sample_is_deterministic_given_the_seed(tmp_path):
    clip_list = synthetic.clips(actors=(3,), emotions=(4,), statements=(1,))
    digests = []
    for run, seed in (("a", 0), ("b", 0), ("c", 1)):
        paths = synthetic.make_sample(str(tmp_path / run), clip_list, duration=0.5, size=(96, 64), seed=seed)
        digests.append([hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths])
    assert digests[0] == digests[1]
    assert digests[0][0] != digests[2][0] and digests[0][1] != digests[2][1]


def test_video_only_clips_have_no_audio_stream(tmp_path):
    clip_list = synthetic.clips(actors=(4,), emotions=(2,), statements=(1,), modalities=(2,))
    (path,) = synthetic.make_sample(str(tmp_path), clip_list, duration=0.5, size=(96, 64))
    assert set(_streams(path)[0]) == {"video"}


def test_zenodo_zips_scan_like_the_folders(sample_dir, tmp_path):
    zips = synthetic.zip_like_zenodo(str(sample_dir), str(tmp_path))
    assert sorted(p.rsplit("/", 1)[1] for p in zips) == [
        "Audio_Speech_Actors_01-24.zip",
        "Video_Speech_Actor_01.zip",
        "Video_Speech_Actor_02.zip",
    ]
    from_zips, from_folders = ravdess.scan(str(tmp_path)), ravdess.scan(str(sample_dir))
    assert [s.clip for s in from_zips.sources] == [s.clip for s in from_folders.sources]
    assert all(s.member for s in from_zips.sources)
    first = from_zips.sources[0]
    assert first.read() == open(from_folders.sources[0].path, "rb").read()
