"""The emotion models the registry composes, in keras-hub's Task manner: `EmotionModel`
(encoders, a merge layer for two, a classifier) and `Average` (members' probabilities averaged:
an ensemble, or the late fusion of a faces and a voice preset). Their parts are attributes, and
what training, the feature cache, export and presets need of them are methods here, so that no
module finds a part of a model by its layer name."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers

from emorec.models import fusion
from emorec.models.network import Encoder, Network, deserialize, register, serialize


def _first(values):
    return next((v for v in values if v is not None), None)


@register
class EmotionModel(Network):
    """One encoder, or a video and an audio encoder through the merge layer (`merge`, with
    `merge_options` such as `dim`), then dropout (`head_dropout`) and a softmax classifier of
    `num_classes`. Attributes: `encoders`, `head_dropout`, `head`."""

    def __init__(
        self,
        encoders: list,
        num_classes: int = 8,
        merge: str = "concat",
        merge_options: dict | None = None,
        head_dropout: float = 0.3,
        name: str | None = None,
        **kwargs,
    ):
        encoders = [deserialize(e) for e in encoders]
        inputs = {t.name: keras.Input(t.shape[1:], dtype=t.dtype, name=t.name) for e in encoders for t in e.inputs}
        embeddings = [
            e([inputs[t.name] for t in e.inputs] if len(e.inputs) > 1 else inputs[e.input.name]) for e in encoders
        ]
        x = fusion.merge(*embeddings, mode=merge, **(merge_options or {})) if len(embeddings) == 2 else embeddings[0]
        dropout = layers.Dropout(head_dropout, name="head_dropout")
        head = layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")
        super().__init__(inputs, head(dropout(x)), name=name or "_".join(e.name for e in encoders), **kwargs)
        self.encoders: list[Encoder] = encoders
        self.head_dropout, self.head = dropout, head

    def get_config(self) -> dict:
        return {**super().get_config(), "encoders": [serialize(e) for e in self.encoders]}

    def speaker_features(self) -> keras.Model | None:
        return _first(e.speaker_features() for e in self.encoders)

    def _frozen_encoder(self) -> tuple[Encoder, keras.Model, keras.Model] | None:
        split = self.encoders[0].frozen_split() if len(self.encoders) == 1 else None  # a fusion trains whole
        return None if split is None else (self.encoders[0], *split)

    def frozen_parts(self) -> tuple[keras.Model, keras.Model] | None:
        frozen = self._frozen_encoder()
        if frozen is None:
            return None
        encoder, features, pooling = frozen
        # The pooling's own inputs again (pooled features, then any speaker_stats, speaker_windows),
        # named as the model's.
        names = ["pooled"] + [t.name for t in encoder.inputs[1:]]
        inputs = [keras.Input(t.shape[1:], name=n) for t, n in zip(pooling.inputs, names)]
        x = self.head_dropout(pooling(inputs if len(inputs) > 1 else inputs[0]))
        return features, keras.Model({t.name: t for t in inputs}, self.head(x), name="head")

    def trained_parts(self) -> dict[str, keras.layers.Layer]:
        frozen = self._frozen_encoder()
        return {"head": self.head, "pooling": frozen[2]} if frozen else {"network": self}


@register
class Average(Network):
    """One model whose output is the mean of `members`' outputs (same output shape; inputs of the
    same name are one input, so members may read different ones, faces and voice): an ensemble or
    late fusion that exports and serves as one model. Attribute: `members`, any Keras models: what
    the `Network`s among them say of their parts is what the average says of its own."""

    def __init__(self, members: list, name: str = "average", **kwargs):
        members = [deserialize(m) for m in members]
        inputs = {}
        for member in members:
            for t in member.inputs:
                if t.name in inputs and tuple(inputs[t.name].shape) != tuple(t.shape):
                    raise ValueError(f"{name}: members take {t.name} of shapes {inputs[t.name].shape} and {t.shape}")
                inputs.setdefault(t.name, keras.Input(t.shape[1:], dtype=t.dtype, name=t.name))
        # Renamed wrappers: a functional model needs unique layer names, and the members may share theirs.
        outputs = [
            keras.Model(m.input, m.output, name=f"member_{i}")({t.name: inputs[t.name] for t in m.inputs})
            for i, m in enumerate(members)
        ]
        super().__init__(inputs, layers.Average(name="probabilities")(outputs), name=name, **kwargs)
        self.members: list[Network] = members

    def get_config(self) -> dict:
        return {**super().get_config(), "members": [serialize(m) for m in self.members]}

    def speaker_features(self) -> keras.Model | None:
        """The first member's: members' frozen encoders are one and the same."""
        return _first(m.speaker_features() for m in self._networks())

    def frozen_parts(self) -> tuple[keras.Model, keras.Model] | None:
        """An average whose one frozen encoder is one member's splits there: the head then holds
        the whole average, the other members (faces) reading their own inputs."""
        split = [m.frozen_parts() if isinstance(m, Network) else None for m in self.members]
        frozen = [(m, part) for m, part in zip(self.members, split) if part]
        hears = [m for m, part in zip(self.members, split) if not part and "waveform" in {t.name for t in m.inputs}]
        if len(frozen) != 1 or hears:
            return None  # no frozen encoder, several, or another member that hears the audio too
        features, voice = frozen[0][1]
        pooled = keras.Input(features.output.shape[1:], name="pooled")
        others = {
            t.name: keras.Input(t.shape[1:], dtype=t.dtype, name=t.name)
            for m in self.members
            for t in m.inputs
            if t.name != "waveform"
        }
        outputs = [
            voice({"pooled": pooled, **{t.name: others[t.name] for t in voice.inputs if t.name != "pooled"}})
            if part
            else member({t.name: others[t.name] for t in member.inputs})
            for member, part in zip(self.members, split)
        ]
        return features, keras.Model(
            {"pooled": pooled, **others}, layers.Average(name="probabilities")(outputs), name="head"
        )

    def trained_parts(self) -> dict[str, keras.layers.Layer]:
        return {
            f"member_{i}.{k}": part
            for i, m in enumerate(self.members)
            for k, part in (m.trained_parts() if isinstance(m, Network) else {"network": m}).items()
        }

    def _networks(self) -> list[Network]:
        return [m for m in self.members if isinstance(m, Network)]


def trained_weights(model: Network) -> dict[str, np.ndarray]:
    """What training set, {part/index: array} (`trained_parts`, each part's weights in Keras'
    order): a preset's trained file."""
    return {
        f"{name}/{i}": np.asarray(value)
        for name, part in model.trained_parts().items()
        for i, value in enumerate(part.get_weights())
    }


def load_trained(model: Network, arrays: dict[str, np.ndarray]) -> None:
    """Puts `trained_weights` back; ValueError, naming the part, for an array the model has no
    place for or of another shape, and for a part left out."""
    expected = trained_weights(model)
    missing, unknown = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or unknown:
        raise ValueError(f"the weights {'lack ' + str(missing[:3]) if missing else 'hold ' + str(unknown[:3])}")
    for key, value in arrays.items():
        if expected[key].shape != value.shape:
            raise ValueError(f"the weights hold {key} of shape {value.shape}, the model's is {expected[key].shape}")
    for name, part in model.trained_parts().items():
        part.set_weights([arrays[f"{name}/{i}"] for i in range(len(part.weights))])


@dataclasses.dataclass
class VoiceHead:
    """A frozen-encoder voice model's parts that training sets: `features` (waveform -> the
    encoder's pooled layers, frozen), `speaker_norm` (whose prior is the training speakers'),
    `head` (the linear layer) and `head_model` (pooled features and speaker inputs -> the
    probabilities, through the model's own layers)."""

    model: EmotionModel
    features: keras.Model
    head_model: keras.Model
    speaker_norm: keras.layers.Layer
    head: keras.layers.Layer

    @classmethod
    def of(cls, model: keras.Model) -> VoiceHead | None:
        """The parts of a frozen Whisper model with a speaker prior; None for any other model."""
        parts = model.frozen_parts() if isinstance(model, EmotionModel) else None
        if parts is None or "speaker_windows" not in {t.name for t in model.inputs}:
            return None
        return cls(model, parts[0], parts[1], model.encoders[0].speaker_norm, model.head)

    @property
    def copies(self) -> int:
        """The speed copies each window's features hold (1 without `speeds`): the model standardises
        each and averages them before the head."""
        return int(np.prod(self.features.output.shape[1:])) // int(self.head.kernel.shape[0])
