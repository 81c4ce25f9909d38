"""Every command and request in the README's Serving and Live prediction sections, run as
written against small exports under the names it uses, with the loopback stand-ins in
TF Serving's place (on its ports, 8500 and 8501)."""

import re
import shlex
import socket
import subprocess

import pytest

from emorec import errors, export, models, ravdess, synthetic
from emorec.inference import cli

import serving_standin
from conftest import ROOT


def _blocks(section: str) -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", body, re.S)


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """saved_models/demo/1 (the demo's audio-visual fusion, small) and demo_audio/1, and the
    files the README names."""
    root = tmp_path_factory.mktemp("readme")
    names = list(ravdess.EMOTIONS)
    export.export(
        models.build("resnet_lstm+mel_cnn2d", frames=4, image_size=32, backbone="small_cnn"),
        str(root / "saved_models"),
        "demo",
        names,
        version=1,
    )
    export.export(models.build("mel_cnn2d", frames=4), str(root / "saved_models"), "demo_audio", names, version=1)
    clip = ravdess.Clip(1, 1, 5, 1, 1, 1, 1)
    synthetic.write_mp4(
        str(root / "clip.mp4"), synthetic.render_frames(clip, (160, 120), 30), synthetic.render_audio(clip, 1.0)
    )
    for name in ("other.wav", "speech.wav"):
        synthetic.write_wav(str(root / name), synthetic.render_audio(clip, 1.0), synthetic.SAMPLE_RATE)
    return root


def test_every_readme_serving_and_prediction_line_runs(workdir, monkeypatch, capsys):
    if not (_free(8500) and _free(8501)):
        pytest.skip("ports 8500/8501 are taken: the README's commands use TF Serving's own ports")
    monkeypatch.chdir(workdir)
    demo = str(workdir / "saved_models" / "demo" / "1")
    ran = []
    with serving_standin.rest(demo, "demo", 8501), serving_standin.grpc_server(demo, "demo", 8500):
        for section in ("Serving", "Live prediction"):
            for language, code in _blocks(section):
                if language == "python":
                    namespace = {}
                    exec(compile(code, "README.md", "exec"), namespace)
                    assert namespace["rows"] and set(namespace["rows"][0]["probabilities"]) == set(ravdess.EMOTIONS)
                    ran.append("python")
                    continue
                for line in code.replace("\\\n", " ").splitlines():
                    words = shlex.split(line, comments=True)
                    if not words or words[0] == "docker":  # TF Serving itself: the stand-ins are here instead
                        continue
                    if words[0] == "curl":
                        out = subprocess.run(words, capture_output=True, text=True, check=True).stdout
                        assert '"serving_default"' in out and '"class_names"' in out
                    else:
                        assert words[0] == "emorec-predict", line
                        code_ = errors.guarded("emorec-predict", cli.main, words[1:] + ["--out", str(workdir / "out")])
                        err = capsys.readouterr().err
                        if words[1] == "0":  # no camera on a test machine: said in one line
                            assert code_ == 2 and "camera 0 could not be opened" in err
                        else:
                            assert code_ == 0, (line, err[-500:])
                    ran.append(words[0])
    assert ran.count("emorec-predict") >= 5 and "curl" in ran and "python" in ran
