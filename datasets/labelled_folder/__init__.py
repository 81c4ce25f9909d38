"""A user's own labelled clips as a TFDS dataset (`tfds build datasets/labelled_folder`)."""

from emorec import tfds_command

tfds_command.install()  # first: `tfds build` imports this package before the builder
