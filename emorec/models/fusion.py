"""The merge layer: fuses the latent representations of a video and an audio encoder.

- `concat` (default, the reference study's): concatenation, then an MLP.
- `gated`: a gated multimodal unit (Arevalo et al. 2017) that learns, per example and
  feature, how much to trust each modality.
- `cross_attention`: each embedding is expanded into a few latent tokens; video tokens
  attend to audio tokens and the reverse, and the results are pooled.
"""

from __future__ import annotations

import inspect

from keras import layers

from emorec.errors import UserValueError

MERGES = ("concat", "gated", "cross_attention")


def merge(
    video, audio, mode: str = "concat", dim: int = 256, dropout: float = 0.3, num_tokens: int = 4, num_heads: int = 4
):
    """[batch, Dv] and [batch, Da] -> [batch, dim]."""
    if mode == "concat":
        x = layers.Concatenate(name="merge_concat")([video, audio])
        x = layers.Dense(dim, activation="relu", name="merge_mlp")(layers.Dropout(dropout)(x))
        return x
    if mode == "gated":
        v = layers.Dense(dim, activation="tanh", name="merge_video")(video)
        a = layers.Dense(dim, activation="tanh", name="merge_audio")(audio)
        gate = layers.Dense(dim, activation="sigmoid", name="merge_gate")(layers.Concatenate()([video, audio]))
        # gate * v + (1 - gate) * a, written as a + gate * (v - a) with stock layers.
        difference = layers.Subtract()([v, a])
        return layers.Add(name="merge_gated")([a, layers.Multiply()([gate, difference])])
    if mode == "cross_attention":

        def tokens(x, name):
            x = layers.Dense(num_tokens * dim, name=f"merge_{name}_tokens")(x)
            return layers.LayerNormalization(epsilon=1e-6)(layers.Reshape((num_tokens, dim))(x))

        v, a = tokens(video, "video"), tokens(audio, "audio")
        attend = dict(num_heads=num_heads, key_dim=dim // num_heads, dropout=dropout)
        v2a = layers.MultiHeadAttention(**attend, name="merge_video_to_audio")(v, a)
        a2v = layers.MultiHeadAttention(**attend, name="merge_audio_to_video")(a, v)
        x = layers.Concatenate(axis=1)([layers.Add()([v, v2a]), layers.Add()([a, a2v])])
        return layers.GlobalAveragePooling1D(name="merge_pool")(x)
    raise UserValueError(f"unknown merge {mode!r}; choose one of {MERGES}")


# {option: default} of the merge layers, which the registry takes as `merge_*`.
MERGE_OPTIONS = {p.name: p.default for p in list(inspect.signature(merge).parameters.values())[3:]}
