"""CREMA-D TFDS builder (`tfds build datasets/cremad --config=audio|av`)."""

from emorec import tfds_command

tfds_command.install()  # first: `tfds build` imports this package before the builder
