"""emorec: emotion recognition from faces and voice on video (Keras 3 / TensorFlow).

Modules: `ravdess` (file names, labels, folds), `synthetic` (a small synthetic sample),
`media` (decode, faces, audio, features), `data`, `models`, `export`, `inference`, `serving`.
"""
__version__ = "0.1.0"
