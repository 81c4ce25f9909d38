"""RAVDESS TFDS builder (`tfds build datasets/ravdess --config=av|audio|video[_song]`)."""

from emorec import tfds_command

tfds_command.install()  # first: `tfds build` imports this package before the builder
