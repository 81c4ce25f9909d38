"""A frozen Whisper encoder through trainers.train (features cached once, only the head trains)
to an export whose enrolment gives the speaker statistics training used, and whose served
probabilities are the ones the run scored. A random-weight tiny.en encoder stands in for the
pretrained one (the suite never needs the weight packages)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from datasets.ravdess import ravdess_dataset_builder
from emorec import enrolment, feature_cache, serving, synthetic
from emorec.data import datasets
from emorec.evaluation import predictions

from conftest import ROOT
from test_training import ENV


@pytest.fixture(scope="module")
def audio_data(tmp_path_factory):
    """ravdess/audio built from 3 actors x 3 emotions x 2 statements of synthetic speech."""
    root = tmp_path_factory.mktemp("whisper")
    synthetic.make_sample(
        str(root / "sample"),
        synthetic.clips(actors=(1, 2, 3), emotions=(1, 5, 8), statements=(1, 2), modalities=(3,)),
        duration=1.2,
    )
    builder = ravdess_dataset_builder.Builder(data_dir=str(root / "data"), config="audio")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root / "sample")))
    return root / "data"


# The refit case runs on three speed copies too: their statistics have one more axis, and the
# export averages two heads. It holds the plain case's path, which runs with the slow tests.
@pytest.mark.parametrize(
    "refit, options",
    [
        pytest.param(False, "whisper_weights=None", marks=pytest.mark.slow),
        (True, 'whisper_weights=None,"speeds=(0.9,1.0,1.1)"'),
    ],
)
def test_frozen_whisper_trains_on_cached_features_and_serves_what_it_scored(audio_data, tmp_path, refit, options):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainers.train",
            f"--data_dir={audio_data}",
            "--config=audio",
            f"--model_dir={tmp_path / 'run'}",
            "--model=whisper_tiny_en",
            f"--options={options}",
            "--frames=16",
            "--fold=1",
            "--epochs=3",
            "--batch_size=4",
            "--verbose=0",
            f"--export_dir={tmp_path / 'exports'}",
            f"--{'' if refit else 'no'}refit",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    fold = tmp_path / "run" / "fold_1"
    result = json.loads((fold / "metrics.json").read_text())
    assert result["actors"]["test"] == [1] and result["test"]["clip"]["examples"] == 6
    history = (fold / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 3
    if refit:  # a second head on training + validation actors for the epochs validation chose
        column = history[0].split(",").index("val_accuracy")
        best = int(np.argmax([float(row.split(",")[column]) for row in history[1:]])) + 1
        assert result["refit"]["epochs"] == best
        assert len((fold / "refit_history.csv").read_text().splitlines()) == 1 + best
        assert [w.rsplit("/", 1)[-1] for w in result["weights"]] == ["best.weights.h5", "refit.weights.h5"]

    builder = datasets.load_builder(str(audio_data), "audio")
    clips = list(tfds.as_numpy(builder.as_dataset(split="actor_01")))
    model = serving.LocalModel(str(tmp_path / "exports" / "whisper_tiny_en" / "1"))

    # Enrolment at serving = the statistics the cached training path gave actor 1.
    with np.load(tmp_path / "run" / "feature_cache.npz") as f:
        cache = {k: f[k] for k in ("features", "labels", "names", "actors")}
    trained_stats = feature_cache.inputs(cache, [1], speaker_stats=True)[0]["speaker_stats"][0]
    assert trained_stats.shape[:2] == ((2, 3) if "speeds" in options else (2, 5))  # (mean and std, speeds or layers)
    served_stats = enrolment.speaker_stats(model, [c["waveform"] for c in clips])
    np.testing.assert_allclose(served_stats, trained_stats, rtol=1e-4, atol=1e-5)

    # The export, fed the enrolled statistics, gives the probabilities the run scored.
    kept = dict(
        zip(
            predictions.load(str(tmp_path / "run" / "fold_1"))["test"][2],
            predictions.load(str(tmp_path / "run" / "fold_1"))["test"][0],
        )
    )
    for clip in clips:
        windows = enrolment.audio_windows(clip["waveform"], model.speaker_window_samples)
        served = model.predict({"waveform": windows, "speaker_stats": np.repeat(served_stats[None], len(windows), 0)})
        name = predictions.clip_name(clip["name"])
        np.testing.assert_allclose(served["probabilities"].mean(0), kept[name], atol=1e-4)
