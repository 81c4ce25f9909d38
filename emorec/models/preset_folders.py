"""Presets as folders, in keras-hub's manner: `save_to_preset` writes a model's own config
(`config.json`, Keras' serialisation of its class and constructor arguments), its trained parts
(`trained.npz`, `trained_weights`) and its card (`preset.json`, which names both files with their
sha256); `from_preset` reads them back, checking each. A preset of `members` (the card's list of
other presets) is their `Average`. Pretrained parts too large to ship (Whisper's encoders,
FER2013's network) come from their packages as the config says."""

from __future__ import annotations

import json
import os

import keras

from emorec import presets
from emorec.models.emotion_model import Average, load_trained, trained_weights
from emorec.models.network import Network, deserialize, serialize

CONFIG, TRAINED = "config.json", "trained.npz"


def save_to_preset(model: Network, folder: str, card: dict) -> str:
    """Writes `model` as a preset in `folder`: its config, its trained parts (where it has any) and
    `card` (checked as `presets.card` checks it on load) naming them. Returns the folder."""
    os.makedirs(folder, exist_ok=True)
    files = {CONFIG: presets.write_text(os.path.join(folder, CONFIG), json.dumps(serialize(model), indent=1))}
    arrays = trained_weights(model)
    if arrays:
        files[TRAINED] = presets.write_arrays(os.path.join(folder, TRAINED), arrays)
    elif os.path.exists(os.path.join(folder, TRAINED)):
        os.remove(os.path.join(folder, TRAINED))
    presets.write_card(folder, {**card, "files": files})
    return folder


def from_preset(name: str) -> Network:
    """The preset `name` (`emorec.presets.names()`, or a preset's folder) as a Keras model: built
    from its config, its trained parts loaded, pretrained parts from their packages."""
    card = presets.card(name)
    if "members" in card:
        return Average([from_preset(member) for member in card["members"]], name=card["name"])
    with open(presets.checked_file(name, CONFIG)) as f:
        config = json.load(f)
    try:
        model = deserialize(config)
    except (TypeError, ValueError, KeyError) as e:
        raise presets.PresetError(
            f"preset {name}: its {CONFIG} does not build a model ({e}): write it again with its card's command"
        ) from None
    if not isinstance(model, keras.Model):
        raise presets.PresetError(f"preset {name}: its {CONFIG} holds no model")
    if TRAINED in card["files"]:
        try:
            load_trained(model, presets.arrays(name, TRAINED))
        except ValueError as e:
            raise presets.PresetError(f"preset {name}: {TRAINED} does not fit its {CONFIG}: {e}") from None
    return model
