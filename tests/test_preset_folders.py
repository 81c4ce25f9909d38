"""Presets as folders: what `save_to_preset` writes `from_preset` reads back into the same model,
and the shipped presets predict what they predicted before they moved to folders."""

import json
import os
import shutil

import numpy as np
import pytest

from emorec import models, presets

from conftest import ROOT
from test_presets import needs_whisper


def reference_feed(model, size: int = 2, seed: int = 0) -> dict:
    """A seeded input of what `model` takes: faces, audio, one speaker unheard (zero statistics)
    and one with statistics of the features' own scale."""
    rng = np.random.default_rng(seed)
    feed = {}
    for tensor in model.inputs:
        shape = (size, *tensor.shape[1:])
        if tensor.name == "faces":
            feed["faces"] = rng.integers(0, 256, shape).astype("uint8")
        elif tensor.name == "waveform":
            feed["waveform"] = (0.1 * rng.standard_normal(shape)).astype("float32")
        elif tensor.name == "speaker_stats":
            one = (1, *shape[2:])
            heard = np.stack([rng.normal(0, 0.5, one), rng.uniform(0.5, 2, one)], 1)
            feed["speaker_stats"] = np.concatenate([np.zeros_like(heard), heard]).astype("float32")
        elif tensor.name == "speaker_windows":
            feed["speaker_windows"] = np.array([0, 12], "float32")
    return feed


REFERENCE = ROOT / "tests" / "data" / "preset_outputs.npz"
with np.load(REFERENCE) as recorded:
    MOVED = sorted(recorded.files)  # the presets shipped before the move; later ones were written as folders


def test_every_preset_shipped_before_the_move_is_still_shipped():
    assert set(MOVED) <= set(presets.names())


@needs_whisper
@pytest.mark.parametrize("name", MOVED)
def test_each_shipped_preset_predicts_bit_identically_to_before_its_move_to_a_folder(name):
    """tests/data/preset_outputs.npz: the presets' outputs on `reference_feed`, recorded by the
    card-format-1 code (a build spec on the card, head.npz by variable path) before the move."""
    with np.load(REFERENCE) as reference:
        expected = reference[name]
    model = models.from_preset(name)
    np.testing.assert_array_equal(model.predict(reference_feed(model), verbose=0), expected)


def test_save_to_preset_writes_what_from_preset_builds_again(tmp_path):
    model = models.build("whisper_tiny_en", num_classes=3, frames=4, whisper_weights=None, hidden=0, prior_windows=2.0)
    rng = np.random.default_rng(1)
    for part in model.trained_parts().values():
        part.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in part.get_weights()])
    card = {k: v for k, v in presets.card("ravdess_speech_whisper").items() if k not in ("files", "format")}
    folder = models.save_to_preset(model, str(tmp_path / "mine"), {**card, "classes": ["a", "b", "c"]})
    assert sorted(os.listdir(folder)) == ["config.json", "preset.json", "trained.npz"]

    again = models.from_preset(folder)
    assert type(again) is type(model)
    assert json.dumps(again.get_config()) == json.dumps(model.get_config())
    feed = reference_feed(model)
    # The frozen encoder is random here (no package weights in its config): only the trained parts travel.
    again.encoders[0].features.set_weights(model.encoders[0].features.get_weights())
    np.testing.assert_array_equal(again.predict(feed, verbose=0), model.predict(feed, verbose=0))

    # A config that does not fit the trained file is one line naming both.
    config = json.loads((tmp_path / "mine" / "config.json").read_text())
    config["config"]["num_classes"] = 4
    digest = presets.write_text(str(tmp_path / "mine" / "config.json"), json.dumps(config))
    written = json.loads((tmp_path / "mine" / "preset.json").read_text())
    written["files"]["config.json"] = digest
    (tmp_path / "mine" / "preset.json").write_text(json.dumps(written))
    with pytest.raises(presets.PresetError, match=r"trained.npz does not fit its config.json"):
        models.from_preset(folder)


def test_a_card_holding_a_field_of_another_type_is_refused_in_a_line_naming_it(tmp_path):
    source = presets.folder("ravdess_speech_whisper")
    shutil.copytree(source, tmp_path / "p")
    card = json.loads((tmp_path / "p" / "preset.json").read_text())
    card["classes"] = "neutral,calm"
    (tmp_path / "p" / "preset.json").write_text(json.dumps(card))
    with pytest.raises(presets.PresetError, match=r"preset\.json holds classes \(str\)"):
        presets.card(str(tmp_path / "p"))


def test_a_preset_written_again_over_its_folder_is_its_next_version(tmp_path):
    model = models.build("whisper_tiny_en", num_classes=3, frames=4, whisper_weights=None, hidden=0, prior_windows=2.0)
    card = {k: v for k, v in presets.card("ravdess_speech_whisper").items() if k not in ("files", "format", "version")}
    card = {**card, "name": "mine", "classes": ["a", "b", "c"]}
    versions = []
    for name in ("mine", "mine", "theirs"):
        folder = models.save_to_preset(model, str(tmp_path / "p"), {**card, "name": name})
        versions.append(presets.card(folder)["version"])
    assert versions == [1, 2, 1]  # another preset's folder written over does not carry its versions
