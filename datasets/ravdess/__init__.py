"""RAVDESS TFDS builder (`tfds build datasets/ravdess --config=av|audio|video[_song]`)."""
