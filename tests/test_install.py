"""The core install (no extras) exports a model and runs emorec-predict: neither touches a
module that only an extra brings."""

import subprocess
import sys

from emorec import ravdess, synthetic

from conftest import ROOT

# What the extras bring ([train], [build], [baselines]); scipy and pandas come with them.
EXTRAS_ONLY = (
    "tensorflow_datasets",
    "apache_beam",
    "mlcroissant",
    "opensmile",
    "sklearn",
    "scipy",
    "pandas",
    "tensorboard",
    "skimage",
)

SCRIPT = """
import importlib.abc, sys

class WithoutExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked}:
            raise ModuleNotFoundError(f"No module named {{name!r}}: the core install has none")

sys.meta_path.insert(0, WithoutExtras())
from emorec import export, models
from emorec.inference import cli

model = models.build("resnet_lstm+mel_cnn2d", frames=4, image_size=32, backbone="small_cnn")
path = export.export(model, sys.argv[2], "av", {classes}, version=1)
sys.exit(cli.main([sys.argv[1], "--model", path, "--out", sys.argv[3]]))
"""


def test_the_core_install_exports_and_predicts(tmp_path):
    clip = ravdess.parse("01-01-05-01-01-01-01.mp4")
    path = tmp_path / "01-01-05-01-01-01-01.mp4"
    synthetic.write_mp4(str(path), synthetic.render_frames(clip, (160, 120), 30), synthetic.render_audio(clip, 1.0))
    script = SCRIPT.format(blocked=set(EXTRAS_ONLY), classes=list(ravdess.EMOTIONS))
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "exports"), str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "out" / "01-01-05-01-01-01-01.timeline.csv").read_text().count("\n") > 5
