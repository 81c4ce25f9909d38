"""The light path of emorec-predict (issue 42): a preset's TFLite made once and cached, run by LiteRT
without TensorFlow in the process, answering as the TensorFlow path does."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, REAL_RAVDESS

from emorec import checks, litert, models, preset_tflite, presets, ravdess, synthetic
from emorec.inference import cli
from emorec.media import faces
from emorec.media.features import FPS

pytestmark = pytest.mark.skipif(not litert.installed(), reason=f"LiteRT is not installed ({litert.LITERT_INSTALL})")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small preset of faces and voice in a folder (as trainers/preset.py writes one), its weights
    in its own file, and a cache folder holding its TFLite: (the preset's folder, the cache)."""
    folder, cache = tmp_path_factory.mktemp("tiny_preset"), tmp_path_factory.mktemp("cache")
    # r3d at widths of 8 and 16, not its 64 to 512: the cache and the two runtimes' agreement are
    # what is tested, and TFLite's conversion of the full-width r3d (34M weights) took most of a
    # minute of the suite; these convert in seconds.
    model = models.build("r3d+wave_cnn1d", num_classes=8, frames=4, image_size=32, widths=(8, 8, 16, 16))
    card = {
        "name": "tiny",
        "version": 1,
        "title": "a small untrained preset for tests",
        "modalities": ["faces", "voice"],
        "classes": list(ravdess.EMOTIONS),
        "inputs": {"faces": "uint8 [batch, 4, 32, 32, 3]", "waveform": "float32 [batch, 2136]"},
        # Crops made at the model's side, as the shipped presets' are: none is resized (in TensorFlow).
        "face_pipeline": faces.FacePipeline(size=32).to_dict(),
        "trained_on": {"data": None},
        "accuracy": {"headline": "none", "protocol": "none"},
        "licence": "none",
    }
    models.save_to_preset(model, str(folder), card)
    patch = pytest.MonkeyPatch()
    patch.setenv(preset_tflite.CACHE_ENV, str(cache))
    preset_tflite.model(str(folder))
    patch.undo()
    shutil.copytree(cache, folder / "made")  # restored before each test that changes it (`cached`)
    return folder, cache


@pytest.fixture
def cached(tiny, monkeypatch):
    """The tiny preset's folder, its cache in use; `make` copies the file made once (no conversion
    each time) and counts its calls in `made`."""
    folder, cache = tiny
    shutil.copytree(folder / "made", cache, dirs_exist_ok=True)
    monkeypatch.setenv(preset_tflite.CACHE_ENV, str(cache))
    path, _ = preset_tflite.paths(str(folder))
    made = []
    monkeypatch.setattr(
        preset_tflite, "make", lambda name, out: made.append(shutil.copy(folder / "made" / os.path.basename(out), out))
    )
    return str(folder), path, made


def _clip(path, seconds=1.0):
    clip = ravdess.parse(path.name)
    synthetic.write_mp4(
        str(path),
        synthetic.render_frames(clip, (160, 120), int(round(seconds * FPS))),
        synthetic.render_audio(clip, seconds),
    )
    return str(path)


def test_a_warm_cache_is_read_not_remade(cached, capsys):
    folder, _, made = cached
    lite = preset_tflite.model(folder)
    assert made == [] and capsys.readouterr().err == ""
    assert lite.signature["faces"].shape == (None, 4, 32, 32, 3)
    assert lite.export_info() == checks.read_export_info(lite)  # from the metadata, as from a request of zeros


def test_a_stale_cache_is_remade_in_one_line(cached, capsys, monkeypatch):
    folder, path, made = cached
    monkeypatch.setattr(preset_tflite, "made_from", lambda name: "other files")
    preset_tflite.model(folder)
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"note: preset {folder} as TFLite ({path}): stale: made from other files") and len(made) == 1
    assert json.load(open(path[: -len(".tflite")] + ".json"))["made_from"] == "other files"


@pytest.mark.parametrize("damage", ["truncated", "changed in place", "record lost", "does not load"])
def test_a_damaged_cache_is_said_in_one_line_and_remade(cached, capsys, damage):
    folder, path, made = cached
    record = path[: -len(".tflite")] + ".json"
    if damage == "truncated":
        content = open(path, "rb").read()
        open(path, "wb").write(content[: len(content) // 2])
    elif damage == "changed in place":  # the size recorded, not the bytes: only the sha256 tells
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "record lost":
        os.remove(record)
    else:  # the file its record names, but no TFLite model: it fails to load
        open(path, "wb").write(b"not a flatbuffer")
        written = {**json.load(open(record)), "bytes": os.path.getsize(path), "sha256": presets.sha256(path)}
        json.dump(written, open(record, "w"))
    preset_tflite.model(folder)
    [line] = capsys.readouterr().err.splitlines()
    assert f"({path}): damaged: " in line and line.endswith("making it again (TensorFlow, a minute or two)"), line
    assert len(made) == 1 and preset_tflite.problem(folder, preset_tflite.made_from(folder)) is None


def test_what_the_cache_is_made_from_covers_the_card_its_files_and_the_graph_code(tiny):
    folder, _ = tiny
    files = preset_tflite._preset_files(str(folder))
    assert list(files) == [str(folder / name) for name in ("preset.json", "config.json", "trained.npz")]
    assert all(digest == presets.sha256(path) for path, digest in files.items())
    code = {os.path.relpath(p, ROOT) for p in preset_tflite._code_files()}
    assert {"emorec/export.py", "emorec/media/features.py", "emorec/models/whisper.py"} <= code
    voice = presets.folder(presets.card(presets.DEFAULT)["members"][1])
    assert os.path.join(voice, "trained.npz") in preset_tflite._preset_files(presets.DEFAULT)  # a member's files count


def _run(argv, env=None, **kwargs):
    """emorec-predict ARGV in a fresh interpreter, as its console script runs it, saying at exit
    which of TensorFlow, NumPy and OpenCV it imported."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('imported:', *[m for m in ('tensorflow', 'numpy', 'cv2') "
        "if m in sys.modules]))\n"
        "from emorec.commands import predict\n"
        "sys.argv = ['emorec-predict', *sys.argv[1:]]\n"
        "sys.exit(predict())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        **kwargs,
    )


def test_a_preset_on_a_video_with_faces_and_voice_runs_without_tensorflow(tiny, tmp_path):
    folder, cache = tiny
    clip = _clip(tmp_path / "01-01-05-01-01-01-01.mp4")
    done = _run(
        [clip, "--preset", str(folder), "--out", str(tmp_path / "out")],
        {preset_tflite.CACHE_ENV: str(cache), "EMOREC_RUNTIME": ""},
    )  # the default: lite where installed
    assert done.returncode == 0, done.stderr
    assert "tensorflow" not in done.stdout.splitlines()[-1].split(), done.stdout
    assert (tmp_path / "out" / "01-01-05-01-01-01-01.timeline.json").exists()


def test_help_and_the_preset_list_need_neither_tensorflow_nor_the_media_libraries():
    for argv in (["--help"], ["--list-presets"]):
        done = _run(argv)
        assert done.returncode == 0 and done.stdout.splitlines()[-1] == "imported:", done.stdout + done.stderr
    assert "--runtime {lite,tf}" in _run(["--help"]).stdout


def test_the_light_path_answers_as_the_tensorflow_path(tiny, tmp_path, monkeypatch):
    folder, cache = tiny
    monkeypatch.setenv(preset_tflite.CACHE_ENV, str(cache))
    clip = _clip(tmp_path / "01-01-03-01-01-01-01.mp4", seconds=1.5)
    answers = {
        runtime: next(
            cli.run(cli.parse([clip, "--preset", str(folder), "--runtime", runtime, "--out", str(tmp_path / runtime)]))
        )["rows"]
        for runtime in ("lite", "tf")
    }
    assert [r["frame"] for r in answers["lite"]] == [r["frame"] for r in answers["tf"]] and answers["lite"]
    _agree(answers["lite"], answers["tf"])


def _agree(lite, tf):
    """Same labels; probabilities within TFLite's agreement with Keras (3e-6) and the rows' rounding (5 decimals)."""
    assert [r["label"] for r in lite] == [r["label"] for r in tf]
    np.testing.assert_allclose(
        [list(r["probabilities"].values()) for r in lite], [list(r["probabilities"].values()) for r in tf], atol=1.5e-5
    )


REAL = {
    "wav": [
        REAL_RAVDESS / "Audio_Speech_Actors_01-24" / "Actor_01" / "03-01-05-02-01-01-01.wav",
        REAL_RAVDESS / "Audio_Speech_Actors_01-24" / "Actor_12" / "03-01-03-01-02-01-12.wav",
    ],
    "mp4": [
        REAL_RAVDESS / "clips" / "01-01-07-02-02-01-01.mp4",
        REAL_RAVDESS / "video_actor_05" / "01-01-06-02-01-01-05.mp4",
    ],
}


@pytest.mark.slow  # the default preset and its voice member as TFLite: minutes to make once, then a minute
@pytest.mark.parametrize("kind", sorted(REAL))
def test_the_default_preset_answers_alike_on_real_clips_through_either_path(kind, tmp_path):
    clips = [str(p) for p in REAL[kind] if p.exists()]
    if not clips:
        pytest.skip(f"real RAVDESS {kind} clips not found under {REAL_RAVDESS} (set RAVDESS_DIR to use them)")
    for clip in clips:
        answers = {
            runtime: next(cli.run(cli.parse([clip, "--runtime", runtime, "--out", str(tmp_path / runtime)])))
            for runtime in ("lite", "tf")
        }
        assert answers["lite"]["described"] == answers["tf"]["described"]
        _agree(answers["lite"]["rows"], answers["tf"]["rows"])
