"""CREMA-D TFDS builder (`tfds build datasets/cremad --config=audio|av`)."""
