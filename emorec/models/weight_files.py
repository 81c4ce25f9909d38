"""Keras weights files given as an encoder's `weights`: the one rule every encoder shares."""

from __future__ import annotations

import os

import keras

from emorec.errors import UserError, UserValueError

# `weights` values that name a pretrained start rather than a file.
NAMED = (None, "imagenet", "fer2013", "random")


def load_path_weights(model: keras.Model, weights) -> keras.Model:
    """`model` with the weights of the file `weights`, where it is a path."""
    if weights not in NAMED:
        if not os.path.exists(weights):
            raise UserError(f"backbone weights file {weights!r} does not exist")
        try:
            model.load_weights(weights)
        except OSError as e:  # h5py's words for a file cut short or not HDF5: "truncated file", "signature not found"
            raise UserError(f"backbone weights file {weights} cannot be read ({e}): copy or save it again") from None
    return model


def weights_file_only(model: keras.Model, weights) -> keras.Model:
    """For encoders Keras has no pretrained weights for: None, or a file saved from the same
    encoder (e.g. converted Kinetics weights)."""
    if weights in ("imagenet", "fer2013"):
        raise UserValueError(
            f"{model.name}: Keras ships no {weights} weights for this encoder; "
            "give a weights file saved from the same encoder, or None"
        )
    return load_path_weights(model, weights)
