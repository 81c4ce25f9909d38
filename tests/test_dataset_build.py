"""Building the RAVDESS TFDS dataset from a synthetic sample with every kind of bad input."""

import itertools
import json
import os
import re
import shutil
import socket
import zipfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from datasets.ravdess import ravdess_dataset_builder
from emorec import building, errors, ravdess, synthetic, tfds_command
from emorec.media import features

from conftest import REAL_RAVDESS, ROOT, default_sigint

NO_AUDIO_REAL = REAL_RAVDESS / "clips" / "01-01-08-02-01-01-19.mp4"


@pytest.fixture(scope="module")
def messy_dir(tmp_path_factory, sample_dir):
    """Good clips of actors 1 and 2, plus one bad input of each kind."""
    root = tmp_path_factory.mktemp("messy")
    for path in sample_dir.rglob("*.mp4"):
        target = root / path.parent.name / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
    (root / "Actor_01" / "01-01-02-01-01-01-01.mp4").write_bytes(b"\x00not an mp4" * 100)  # undecodable
    (root / "Actor_01" / "01-01-03-01-01-01.mp4").write_bytes(b"bad name")  # unparsable
    no_face = ravdess.Clip(1, 1, 4, 1, 1, 1, 2)
    synthetic.write_mp4(
        str(root / "Actor_02" / no_face.name(".mp4")),
        np.full((15, 96, 128, 3), 90, np.uint8),
        synthetic.render_audio(no_face, 0.5),
    )
    no_audio = ravdess.Clip(1, 1, 4, 1, 1, 1, 1)
    if NO_AUDIO_REAL.exists():  # the real damaged RAVDESS clip, under a name of this sample's
        shutil.copy(NO_AUDIO_REAL, root / "Actor_01" / no_audio.name(".mp4"))
    else:
        synthetic.write_mp4(
            str(root / "Actor_01" / no_audio.name(".mp4")), synthetic.render_frames(no_audio, (128, 96), 15), None
        )
    # A zip whose member fails its CRC check.
    good = next(sample_dir.rglob("01-01-05-*-01.mp4")).read_bytes()
    with zipfile.ZipFile(root / "Video_Speech_Actor_03.zip", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("Actor_03/01-01-06-01-01-01-03.mp4", good)
    data = bytearray((root / "Video_Speech_Actor_03.zip").read_bytes())
    start = data.index(good[:64])
    data[start + 5000 : start + 5010] = b"\xff" * 10
    (root / "Video_Speech_Actor_03.zip").write_bytes(bytes(data))
    return root


def _build(manual_dir, data_dir, config="av", **download_options):
    builder = ravdess_dataset_builder.Builder(data_dir=str(data_dir), config=config)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir), **download_options)
    )
    return builder


def test_every_bad_clip_is_reported_by_name_and_reason(messy_dir, tmp_path, capsys):
    builder = _build(messy_dir, tmp_path)
    summary = json.loads((builder.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
    assert summary["problems"] == {
        "undecodable": 1,
        "no audio stream": 1,
        "no face": 1,
        "corrupt zip member": 1,
        "unparsable name": 1,
        "empty split": 1,
    }
    reasons = {p["clip"].rsplit("/", 1)[-1]: p["reason"] for p in summary["problem_clips"]}
    assert reasons["01-01-02-01-01-01-01.mp4"] == "undecodable"
    assert reasons["01-01-04-01-01-01-01.mp4"] == "no audio stream"
    assert reasons["01-01-04-01-01-01-02.mp4"] == "no face"
    assert reasons["01-01-06-01-01-01-03.mp4"] == "corrupt zip member"
    assert any(
        p["clip"].endswith("Video_Speech_Actor_03.zip!Actor_03/01-01-06-01-01-01-03.mp4")
        for p in summary["problem_clips"]
    )
    assert reasons["actor_03"] == "empty split"  # its only clip was the corrupt one
    assert summary["clips_found"] == 10 and summary["examples_written"] == 6
    printed = capsys.readouterr().out
    assert "RAVDESS build: 6 of 10 clips written" in printed
    assert "01-01-04-01-01-01-02.mp4: no face" in printed

    splits = builder.info.splits
    assert sorted(splits) == ["actor_01", "actor_02"]
    assert splits["actor_01"].num_examples == 3 and splits["actor_02"].num_examples == 3
    # One pool processes every actor's clips: each split must still hold its own actor's.
    for split in splits:
        actors = {int(e["actor"]) for e in tfds.as_numpy(builder.as_dataset(split=split))}
        assert actors == {int(split[-2:])}


def reference_log_mel(x, sample_rate=16000, num_mels=64, fmin=20.0, fmax=8000.0):
    """numpy, from the definitions: 25 ms periodic-Hann frames every 10 ms (the end padded),
    512-point power spectra, triangular HTK-mel filters (without the DC bin), log(x + 1e-6)."""
    frame, hop, n_fft = 400, 160, 512
    count = -(-len(x) // hop)
    padded = np.pad(x, (0, (count - 1) * hop + frame - len(x)))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)
    power = (
        np.abs(np.fft.rfft(np.stack([padded[i * hop : i * hop + frame] * window for i in range(count)]), n_fft)) ** 2
    )

    def mel(f):
        return 1127.0 * np.log1p(f / 700.0)

    edges = np.linspace(mel(fmin), mel(fmax), num_mels + 2)[:, None]
    bins = mel(np.fft.rfftfreq(n_fft, 1 / sample_rate))
    filters = np.maximum(
        0, np.minimum((bins - edges[:-2]) / (edges[1:-1] - edges[:-2]), (edges[2:] - bins) / (edges[2:] - edges[1:-1]))
    )
    filters[:, 0] = 0
    return np.log(power @ filters.T + 1e-6)


def test_examples_hold_faces_audio_and_log_mel_on_one_timeline(messy_dir, tmp_path):
    builder = _build(messy_dir, tmp_path)
    examples = list(tfds.as_numpy(builder.as_dataset(split="actor_02")))
    by_name = {e["name"].decode(): e for e in examples}
    e = by_name["01-01-05-01-01-01-02.mp4"]
    assert e["label"] == 4 and e["actor"] == 2 and e["gender"] == 1 and e["modality"] == 0
    assert e["faces"].dtype == np.uint8 and e["faces"].shape[1:] == (112, 112, 3)
    n = len(e["faces"])
    assert n == len(e["timestamps"]) == len(e["face_detected"]) == 30  # 1 s at 29.97 fps
    np.testing.assert_allclose(np.diff(e["timestamps"]), 1001 / 30000, rtol=1e-3)
    assert e["fps"] == pytest.approx(29.97, abs=0.01)
    assert e["face_fraction"] > 0.5
    assert abs(len(e["waveform"]) - 16000) < 400
    assert e["log_mel"].shape == (features.num_mel_frames(len(e["waveform"])), features.NUM_MELS)
    # The stored log-mel is the stored waveform's, checked against the definitions, not the builder's own code.
    np.testing.assert_allclose(e["log_mel"], reference_log_mel(e["waveform"].astype(np.float64)), atol=1e-3)
    # The crop shows the emotion's colour cue: the face is tinted towards angry red.
    crop = e["faces"][:, 40:72, 40:72].reshape(-1, 3).mean(0)
    assert crop[0] > crop[2] + 20


def test_strict_build_fails_and_names_the_clips(messy_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOREC_STRICT", "1")
    with pytest.raises(building.BuildError, match="EMOREC_STRICT=1"):
        _build(messy_dir, tmp_path)
    assert not list(tmp_path.rglob("*.tfrecord*")), "a strict failure must not leave a dataset behind"


def test_audio_config_falls_back_to_the_audio_of_av_clips(messy_dir, tmp_path):
    builder = _build(messy_dir, tmp_path, config="audio")
    summary = json.loads((builder.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
    # No wavs in this folder: the mp4s' audio is used; the silent clip and broken ones are reported.
    assert summary["examples_written"] == 7
    assert "faces" not in builder.info.features and "waveform" in builder.info.features


@pytest.mark.slow
def test_beam_build_matches_the_local_build(messy_dir, tmp_path):
    beam = pytest.importorskip("apache_beam")
    options = beam.options.pipeline_options.PipelineOptions(
        runner="DirectRunner", direct_num_workers=2, direct_running_mode="multi_processing"
    )
    built = _build(messy_dir, tmp_path / "beam", beam_options=options)
    local = _build(messy_dir, tmp_path / "local")
    for builder in (built, local):
        summary = json.loads((builder.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
        assert summary["examples_written"] == 6 and len(summary["problem_clips"]) == 6
    names = [sorted(e["name"] for e in tfds.as_numpy(b.as_dataset(split="actor_01"))) for b in (built, local)]
    assert names[0] == names[1]


def test_a_dask_scheduler_that_does_not_answer_is_one_line_naming_it(sample_dir, tmp_path):
    """It was distributed's OSError traceback, "Timed out trying to connect", 30 s on."""
    beam = pytest.importorskip("apache_beam")
    pytest.importorskip("dask.distributed")
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{unused.getsockname()[1]}"
    # As `tfds build --beam_pipeline_options` gives them: as keywords, Beam's DaskOptions drop the address.
    options = beam.options.pipeline_options.PipelineOptions(
        ["--runner=emorec.beam.DaskRunner", f"--dask_client_address={address}", "--dask_connection_timeout=2"]
    )
    with pytest.raises(errors.UserError, match=f"Dask scheduler at {address} "):
        _build(sample_dir, tmp_path, config="audio", beam_options=options)


def test_a_dask_cluster_builds_the_examples_the_local_build_writes(messy_dir, tmp_path, monkeypatch):
    """Beam's DaskRunner (emorec.beam's, fixed) on a dask.distributed cluster of 2 worker
    processes on loopback: every example of every split equal to the local build's."""
    beam = pytest.importorskip("apache_beam")
    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the workers import the builder's functions from the checkout
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        options = beam.options.pipeline_options.PipelineOptions(
            runner="emorec.beam.DaskRunner", dask_client_address=cluster.scheduler_address
        )
        built = _build(messy_dir, tmp_path / "dask", beam_options=options)
    local = _build(messy_dir, tmp_path / "local")
    summaries = [json.loads((b.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text()) for b in (built, local)]
    assert summaries[0]["examples_written"] == summaries[1]["examples_written"] == 6
    assert sorted(p["clip"] for p in summaries[0]["problem_clips"]) == sorted(
        p["clip"] for p in summaries[1]["problem_clips"]
    )
    assert set(built.info.splits) == set(local.info.splits)
    for split in local.info.splits:
        ours, theirs = ({e["name"]: e for e in tfds.as_numpy(b.as_dataset(split=split))} for b in (built, local))
        assert ours.keys() == theirs.keys()
        for name, example in theirs.items():
            for key, value in example.items():
                np.testing.assert_array_equal(ours[name][key], value, err_msg=f"{split} {name} {key}")


def test_a_corrupt_deflate_stream_is_one_named_problem_not_a_stopped_build(sample_dir, tmp_path):
    """A deflated Zenodo-style zip whose first member's compressed bytes are damaged: zlib
    raises while the member is read; the build goes on and says which clip and why."""
    root = tmp_path / "zips"
    root.mkdir()
    clips = sorted(sample_dir.glob("Actor_01/01-*.mp4"))
    path = root / "Video_Speech_Actor_01.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for clip in clips:
            archive.write(clip, f"Actor_01/{clip.name}")
    data = bytearray(path.read_bytes())
    first = zipfile.ZipFile(path).infolist()[0]
    start = first.header_offset + 30 + len(first.filename)  # the local header, then the compressed bytes
    data[start + 200 : start + 400] = bytes(range(200))
    path.write_bytes(bytes(data))
    builder = _build(root, tmp_path / "data")
    summary = json.loads((builder.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
    assert summary["problems"] == {"corrupt zip member": 1}
    assert summary["problem_clips"][0]["clip"].endswith(f"!Actor_01/{clips[0].name}")
    assert summary["clips_found"] == len(clips) and summary["examples_written"] == len(clips) - 1
    assert builder.info.splits["actor_01"].num_examples == len(clips) - 1


def test_a_data_dir_built_from_other_files_is_refused_not_reused(sample_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(sample_dir / "Actor_01", other / "Actor_01")
    builder = _build(sample_dir, tmp_path / "data", config="audio")
    summary = json.loads((builder.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
    assert summary["source"]["manual_dir"] == str(sample_dir) and summary["source"]["files"] > 0
    _build(sample_dir, tmp_path / "data", config="audio")  # the same files: reused
    with pytest.raises(building.BuildError, match=f"{other}"):
        _build(other, tmp_path / "data", config="audio")
    rebuilt = _build(
        other, tmp_path / "data", config="audio", download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
    )
    assert sorted(rebuilt.info.splits) == ["actor_01"]


@pytest.mark.parametrize("lost", ["a shard", "dataset_info.json"])
def test_a_dataset_missing_a_file_is_built_again_not_reused(sample_dir, tmp_path, capsys, lost):
    from emorec.data import datasets

    builder = _build(sample_dir, tmp_path / "data", config="audio")
    shards = sorted(builder.data_path.glob("*.tfrecord*"))
    gone = shards[0] if lost == "a shard" else builder.data_path / "dataset_info.json"
    gone.unlink()
    with pytest.raises(errors.UserError, match=f"\\({gone}\\)"):
        datasets.load_builder(str(tmp_path / "data"), "audio")  # what the trainer says
    rebuilt = _build(sample_dir, tmp_path / "data", config="audio")
    assert f"Building {builder.data_path} again: 1 of its files are missing ({gone})" in capsys.readouterr().out
    assert sorted(rebuilt.data_path.glob("*.tfrecord*")) == shards
    assert datasets.load_builder(str(tmp_path / "data"), "audio").info.splits.keys() == builder.info.splits.keys()


def test_short_silent_and_mismatched_clips_follow_the_readme_rules(sample_dir, tmp_path):
    """A 0.1 s wav is kept with a note (padded to a window); a silent wav and a one-frame
    video with 4 s of audio are left out; each is named in the summary with its rule."""
    root = tmp_path / "doubtful"
    shutil.copytree(sample_dir / "Actor_01", root / "Actor_01")
    short, silent = ravdess.Clip(3, 1, 2, 1, 1, 1, 1), ravdess.Clip(3, 1, 3, 1, 1, 1, 1)
    synthetic.write_wav(
        str(root / "Actor_01" / short.name(".wav")), synthetic.render_audio(short, 0.1), synthetic.SAMPLE_RATE
    )
    synthetic.write_wav(
        str(root / "Actor_01" / silent.name(".wav")),
        np.zeros(5 * synthetic.SAMPLE_RATE, np.float32),
        synthetic.SAMPLE_RATE,
    )
    one_frame = ravdess.Clip(1, 1, 2, 1, 1, 1, 1)
    synthetic.write_mp4(
        str(root / "Actor_01" / one_frame.name(".mp4")),
        synthetic.render_frames(one_frame, (160, 120), 1),
        synthetic.render_audio(one_frame, 4.0),
    )

    audio = _build(root, tmp_path / "audio", config="audio")
    summary = json.loads((audio.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
    assert summary["problems"] == {"silent audio": 1}
    assert summary["problem_clips"][0]["clip"].endswith(silent.name(".wav"))
    assert [(p["clip"].rsplit("/", 1)[-1], p["reason"]) for p in summary["kept_with_notes"]] == [
        (short.name(".wav"), "short")
    ]
    names = {e["name"].decode() for e in tfds.as_numpy(audio.as_dataset(split="actor_01"))}
    assert short.name(".wav") in names and silent.name(".wav") not in names
    assert summary["examples_written"] == len(names)

    av = _build(root, tmp_path / "av", config="av")
    summary = json.loads((av.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
    assert summary["problems"] == {"audio and video lengths differ": 1}
    assert re.match(r"audio 4\.0\d s, video 0\.03 s", summary["problem_clips"][0]["detail"])  # AAC pads a little
    names = {e["name"].decode() for e in tfds.as_numpy(av.as_dataset(split="actor_01"))}
    assert one_frame.name(".mp4") not in names and summary["examples_written"] == len(names) == 3
    # Left out, so not also listed as written with a note ("short").
    assert not any(p["clip"].endswith(one_frame.name(".mp4")) for p in summary["kept_with_notes"])


def test_a_manual_dir_missing_empty_or_a_file_is_one_line_with_what_to_give(tmp_path):
    """TFDS asserted (missing, empty) or listed a file as a folder: tracebacks."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "labels.csv").write_text("path,speaker,emotion\n")
    for given, says in (
        (tmp_path / "nowhere", f"--manual_dir {tmp_path / 'nowhere'} does not exist or is empty: "),
        (tmp_path / "empty", f"--manual_dir {tmp_path / 'empty'} does not exist or is empty: "),
        (tmp_path / "labels.csv", f"--manual_dir {tmp_path / 'labels.csv'} is a file, not a folder: "),
    ):
        with pytest.raises(building.BuildError) as refused:
            _build(given, tmp_path / "data", config="audio")
        [line] = str(refused.value).splitlines()
        assert line.startswith(says) and line.endswith("Only the files of the configs you build are needed."), line


def test_a_config_the_builder_lacks_is_one_line_naming_its_configs(tmp_path, capsys):
    """TFDS's ValueError listed none of them ("Here are 10 BuilderConfigs ...:" and nothing)."""
    with pytest.raises(ValueError) as refused:
        ravdess_dataset_builder.Builder(data_dir=str(tmp_path), config="nonsense")
    others = []
    tfds_command.hook(lambda *e: others.append(e))(refused.type, refused.value, refused.tb)
    names = ", ".join(c.name for c in ravdess_dataset_builder.Builder.BUILDER_CONFIGS)
    assert capsys.readouterr().err == f"tfds build: --config=nonsense is none of this dataset's configs ({names})\n"
    assert not others


def test_a_corpus_of_unusable_clips_ends_in_one_line_naming_the_summary(tmp_path, capsys):
    """Every clip corrupt: a RuntimeError traceback from inside TFDS, and the summary went with
    the unfinished build's folder."""
    for actor, emotion in itertools.product((1, 2), (1, 5)):
        path = tmp_path / "corrupt" / f"Actor_{actor:02d}" / ravdess.Clip(3, 1, emotion, 1, 1, 1, actor).name(".wav")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00not a wav" * 300)
    with pytest.raises(building.BuildError, match=str(tmp_path / "corrupt")) as refused:
        _build(tmp_path / "corrupt", tmp_path / "data", config="audio")
    kept = tmp_path / "data" / "ravdess" / "audio" / building.SUMMARY_FILE
    assert str(kept) in str(refused.value) and json.loads(kept.read_text())["examples_written"] == 0
    hook = tfds_command.hook(None)
    capsys.readouterr()
    hook(refused.type, refused.value, refused.tb)
    assert capsys.readouterr().err.startswith("tfds build: none of the 4 clips")


def test_an_unwritable_or_full_data_dir_is_one_line(sample_dir, tmp_path, capsys):
    import subprocess

    (tmp_path / "a_file").write_text("")
    with pytest.raises(
        ravdess_dataset_builder.BuildError,
        match=r"--data_dir .*a_file/data cannot be written to "
        r"\(Not a directory\)$",
    ) as refused:
        _build(sample_dir, tmp_path / "a_file" / "data", config="audio")
    # As `tfds build` ends on it (its exception hook); anything else goes on to the usual traceback.
    others = []
    hook = tfds_command.hook(lambda *e: others.append(e))
    hook(refused.type, refused.value, refused.tb)
    hook(ValueError, ValueError("a fault"), None)
    assert capsys.readouterr().err == f"tfds build: {refused.value}\n" and others[0][0] is ValueError
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(full)], capture_output=True).returncode:
        pytest.skip("a full disk is made with a 300 KB tmpfs, which needs mount (root)")
    try:
        with pytest.raises(
            ravdess_dataset_builder.BuildError, match=f"no space left on the device of --data_dir {full}"
        ):
            _build(sample_dir, full, config="audio")
    finally:
        subprocess.run(["umount", str(full)], check=True)


def test_tfds_build_says_ctrl_c_in_one_line(sample_dir, tmp_path):
    """And its refusals (BuildError, tested above), through the same exception hook."""
    import signal
    import subprocess
    import sys
    import time

    tfds_command = [
        os.path.join(os.path.dirname(sys.executable), "tfds"),
        "build",
        str(ROOT / "datasets" / "ravdess"),
        "--config=av",
        f"--manual_dir={sample_dir}",
    ]
    build = subprocess.Popen(
        tfds_command + [f"--data_dir={tmp_path / 'data'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=default_sigint,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob("data/ravdess/av/incomplete.*")):
        time.sleep(0.05)
    build.send_signal(signal.SIGINT)
    out, err = build.communicate(timeout=120)
    # Python ends on its own SIGINT after an uncaught Ctrl-C: a shell sees 130.
    assert build.returncode == -signal.SIGINT and "Traceback" not in err and "clips written" not in out
    # Beam's import may still log after it (its own "WARNING:root:..." lines).
    assert "tfds build: stopped (Ctrl-C); nothing was written: the same command builds it again" in err.splitlines()


def test_tfds_build_says_ctrl_c_in_its_first_second_in_one_line(tmp_path):
    """Before TFDS imports a builder (its first seconds: TensorFlow's import), only the
    `emorec-tfds.pth` that setup.py installs can say it: without it, Python's KeyboardInterrupt
    trace from TFDS's imports."""
    import signal
    import subprocess
    import sys
    import time

    build = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "tfds"), "build", str(ROOT / "datasets" / "ravdess")]
        + ["--config=audio", f"--manual_dir={tmp_path / 'clips'}", f"--data_dir={tmp_path / 'data'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=default_sigint,
    )
    time.sleep(0.5)
    build.send_signal(signal.SIGINT)
    out, err = build.communicate(timeout=60)
    assert build.returncode == -signal.SIGINT and "Traceback" not in err and not out
    assert err.splitlines()[-1] == "tfds build: stopped (Ctrl-C); nothing was written: the same command builds it again"
    assert not (tmp_path / "data").exists()


def test_a_build_stopped_by_a_wrapped_ctrl_c_prints_no_summary(sample_dir, tmp_path, monkeypatch, capsys):
    """A failed build says what it found; a stopped one wrote nothing and says nothing more, also
    where the KeyboardInterrupt comes wrapped (in a lock's release, as seen in a stopped build)."""

    def stop(*_, **__):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("cannot release un-acquired lock")

    def fail(*_, **__):
        raise ValueError("a fault")

    for raised, expected, summary in ((stop, RuntimeError, False), (fail, ValueError, True)):
        monkeypatch.setattr(ravdess_dataset_builder.Builder, "_split_generators", raised)
        with pytest.raises(expected):
            _build(sample_dir, tmp_path / expected.__name__, config="audio")
        assert ("RAVDESS build:" in capsys.readouterr().out) == summary, expected


def test_what_an_interrupted_build_left_is_removed(sample_dir, tmp_path, capsys):
    version_dir = tmp_path / "ravdess" / "audio"
    stale = version_dir / f"incomplete.ABC123_{ravdess_dataset_builder.Builder.VERSION}"
    stale.mkdir(parents=True)
    (stale / "ravdess-actor_01.tfrecord-00000-of-00001").write_bytes(b"half")
    builder = _build(sample_dir, tmp_path, config="audio")
    assert not stale.exists() and f"Removing {stale}" in capsys.readouterr().out
    assert [p.name for p in version_dir.iterdir()] == [builder.data_path.name]


def test_a_clip_whose_face_is_mostly_lost_is_noted_in_the_summary(sample_dir, tmp_path):
    root = tmp_path / "turned"
    shutil.copytree(sample_dir / "Actor_01", root / "Actor_01")
    clip = ravdess.Clip(1, 1, 2, 1, 1, 1, 1)
    frames = synthetic.render_frames(clip, (160, 120), 30)
    frames[10:] = 90  # the face gone after a third of the clip
    synthetic.write_mp4(str(root / "Actor_01" / clip.name(".mp4")), frames, synthetic.render_audio(clip, 1.0))
    builder = _build(root, tmp_path / "data", config="av")
    summary = json.loads((builder.data_path / ravdess_dataset_builder.SUMMARY_FILE).read_text())
    notes = {p["clip"].rsplit("/", 1)[-1]: p for p in summary["kept_with_notes"]}
    assert list(notes) == [clip.name(".mp4")] and notes[clip.name(".mp4")]["reason"] == "faces mostly lost"
    written = {e["name"].decode(): e for e in tfds.as_numpy(builder.as_dataset(split="actor_01"))}
    kept = written[clip.name(".mp4")]
    # The detector looks at every 6th frame: it found the face at frames 0 and 6, none after.
    assert kept["face_detected"][[0, 6]].all() and not kept["face_detected"][12:].any()
