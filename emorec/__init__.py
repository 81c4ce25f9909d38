"""emorec: emotion recognition from faces and voice on video (Keras 3 / TensorFlow).

Modules: `ravdess` (file names, labels, folds), `synthetic` (a small synthetic sample),
`media` (decode, faces, audio, features), `models`, `demo`.
"""
import os

# TF 2.21's oneDNN CPU kernels segfault in the backward pass of 1x1 stride-2 convolutions
# (ResNet-style shortcuts; reproduced here with the FER mini-Xception backbone). This must
# be set before TensorFlow loads; export TF_ENABLE_ONEDNN_OPTS=1 to take the risk.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
