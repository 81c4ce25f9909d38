"""emorec: emotion recognition from faces and voice on video (Keras 3 / TensorFlow).

The data flow, by package: `ravdess` (file names, labels, folds) and `media` (decoding,
faces, audio, features) feed the TFDS builder in datasets/ravdess; `data` cuts the built
dataset into model windows; `models` holds the registry; trainers/ trains; `evaluation`
analyses finished runs; `export` and `serving` hand models to TF Serving; `inference` is
`emorec-predict`. `synthetic` makes the demo's and the tests' sample.
"""
import os

# TF 2.21's oneDNN CPU kernels segfault in the backward pass of 1x1 stride-2 convolutions
# (ResNet-style shortcuts; reproduced here with the FER mini-Xception backbone). This must
# be set before TensorFlow loads; export TF_ENABLE_ONEDNN_OPTS=1 to take the risk.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
