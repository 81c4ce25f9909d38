"""Keras weights files given as an encoder's `weights`: the one rule every encoder shares."""
from __future__ import annotations

import os

import keras

# `weights` values that name a pretrained start rather than a file.
NAMED = (None, "imagenet", "fer2013", "random")


def load_path_weights(model: keras.Model, weights) -> keras.Model:
    """`model` with the weights of the file `weights`, where it is a path."""
    if weights not in NAMED:
        if not os.path.exists(weights):
            raise FileNotFoundError(f"backbone weights file {weights!r} does not exist")
        model.load_weights(weights)
    return model


def weights_file_only(model: keras.Model, weights) -> keras.Model:
    """For encoders Keras has no pretrained weights for: None, or a file saved from the same
    encoder (e.g. converted Kinetics weights)."""
    if weights in ("imagenet", "fer2013"):
        raise ValueError(f"{model.name}: Keras ships no {weights} weights for this encoder; "
                         "give a weights file saved from the same encoder, or None")
    return load_path_weights(model, weights)
