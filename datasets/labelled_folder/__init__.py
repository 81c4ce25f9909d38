"""A user's own labelled clips as a TFDS dataset (`tfds build datasets/labelled_folder`)."""
