"""emorec-predict on still photos: a row per face, its box, an annotated copy; faceless and
corrupt photos said in one line; a photo's face predicted as a one-frame video's."""

import csv
import json
import subprocess

import cv2
import numpy as np
import pytest

from emorec import errors, export, models, presets, ravdess, synthetic
from emorec.inference import cli
from emorec.media import video

from conftest import real_ravdess

FACES = "fer2013_faces"  # the default preset's faces member: what a photo runs without --preset


@pytest.fixture(scope="module", autouse=True)
def presets_loaded_once():
    """Each run loads its preset again (5 s for the faces one here): these tests load it once."""
    loaded, load = {}, cli.load_model
    patch = pytest.MonkeyPatch()

    def load_once(args, preset=None):
        if preset is None:
            return load(args)
        if preset not in loaded:
            loaded[preset] = load(args, preset)
        return loaded[preset]

    patch.setattr(cli, "load_model", load_once)
    yield
    patch.undo()


def predict(argv) -> int:
    """emorec-predict as its command runs it (`errors.guarded`): the exit status."""
    return errors.guarded("emorec-predict", cli.main, argv)


def _face(actor: int = 1, size=(320, 240)) -> np.ndarray:
    """A synthetic portrait (emorec.synthetic's astronaut), uint8 RGB, its face in the upper middle."""
    return synthetic.render_frames(ravdess.Clip(1, 1, 3, 1, 1, 1, actor), size, 1)[0]


def _write(path, rgb: np.ndarray) -> str:
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return str(path)


def _inside(box, width, height) -> bool:
    x, y, w, h = box
    return 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= width and y + h <= height


def test_a_photo_gives_a_row_per_face_with_its_box_and_writes_csv_and_json(tmp_path, capsys):
    photo = _write(tmp_path / "portrait.png", _face())
    assert predict([photo, "--out", str(tmp_path / "out")]) == 0  # no --preset: the default's faces
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"preset {presets.headline(FACES)}" and out[1] == "portrait.png: 1 face"
    saved = json.loads((tmp_path / "out" / "portrait.faces.json").read_text())
    [face] = saved["faces"]
    assert (saved["width"], saved["height"]) == (320, 240) and _inside(face["box"], 320, 240)
    x, y, w, h = face["box"]
    assert 80 < x + w / 2 < 240 and y < 120 and 40 < h < 240  # the astronaut's face, upper middle
    assert abs(sum(face["probabilities"].values()) - 1) < 1e-3
    assert face["label"] == max(face["probabilities"], key=face["probabilities"].get)
    assert out[2].startswith(f"  face 1 at x {x}, y {y}, {w} x {h}: {face['label']} "), out[2]
    with open(tmp_path / "out" / "portrait.faces.csv") as f:
        [header, row] = list(csv.reader(f))
    classes = presets.card(FACES)["classes"]
    assert header == ["face", "x", "y", "w", "h", *classes, "label"]
    assert row == [str(v) for v in (1, *face["box"], *(face["probabilities"][c] for c in classes), face["label"])]


def test_two_faces_side_by_side_give_two_rows_left_to_right(tmp_path):
    # Faces a sixth of the photo's width: BlazeFace (short-range, 128 pixels) finds none much smaller.
    pair = np.concatenate([_face(1, (160, 240)), _face(5, (160, 240))], 1)
    [result] = cli.run(cli.parse([_write(tmp_path / "pair.png", pair), "--out", str(tmp_path / "out")]))
    left, right = result["faces"]
    assert [left["face"], right["face"]] == [1, 2]
    assert _inside(left["box"], 320, 240) and _inside(right["box"], 320, 240)
    assert left["box"][0] + left["box"][2] <= 160 <= right["box"][0]  # each face's box on its own half


def test_a_photo_without_a_face_is_one_line_and_exit_status_0(tmp_path, capsys):
    blank = _write(tmp_path / "wall.jpg", np.random.default_rng(0).integers(100, 140, (240, 320, 3), np.uint8))
    assert predict([blank, "--annotate", "--out", str(tmp_path / "out")]) == 0
    run = capsys.readouterr()
    assert run.out == "wall.jpg: no face found\n" and "Traceback" not in run.err
    assert not list((tmp_path / "out").iterdir())


def test_speaker_audio_given_for_photos_alone_is_said_to_be_unused(tmp_path, capsys, sample_dir):
    blank = _write(tmp_path / "wall.jpg", np.full((240, 320, 3), 128, np.uint8))
    speech = next(sample_dir.rglob("03-*.wav"))
    assert predict([blank, "--speaker_audio", str(speech), "--out", str(tmp_path / "out")]) == 0
    assert "note: --speaker_audio is not used: a photo has no voice to adapt to" in capsys.readouterr().err


def test_a_corrupt_photo_is_one_line_naming_it_and_a_folder_goes_on(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    corrupt = folder / "a_broken.jpg"
    corrupt.write_bytes(np.random.default_rng(0).bytes(3000))
    assert predict([str(corrupt), "--out", str(tmp_path / "out")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"emorec-predict: undecodable: {corrupt}: not an image that can be read ("), line
    _write(folder / "b_face.png", _face())
    assert predict([str(folder), "--out", str(tmp_path / "out")]) == 1  # as a folder's unreadable clip is
    run = capsys.readouterr()
    assert f"{corrupt}: not an image that can be read (" in run.err and "(passed over)" in run.err
    assert "b_face.png: 1 face" in run.out and (tmp_path / "out" / "b_face.faces.json").exists()


def test_a_jpeg_cut_short_is_refused_not_read_grey_below_the_cut(tmp_path, capsys):
    """ffmpeg decodes a JPEG cut short and exits 0, filling the missing rows grey: it was read as a
    face of another emotion, without a word. PNG, WebP and BMP cut short fail to decode anyway."""
    whole = tmp_path / "whole.jpg"
    _write(whole, _face())
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    assert predict([str(whole), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert predict([str(cut), "--out", str(tmp_path / "out")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"emorec-predict: damaged: {cut}: not an image that can be read (") and " @ 0x" not in line
    assert not (tmp_path / "out" / "cut.faces.json").exists()


def test_annotate_writes_the_photo_with_each_box_drawn(tmp_path):
    for name in ("portrait.png", "portrait.jpeg"):  # the copy keeps the photo's format
        photo = _write(tmp_path / name, _face())
        out = tmp_path / f"out_{name}"
        [result] = cli.run(cli.parse([photo, "--annotate", "--out", str(out)]))
        drawn = cv2.cvtColor(cv2.imread(result["paths"]["image"]), cv2.COLOR_BGR2RGB)
        assert result["paths"]["image"] == str(out / name.replace("portrait", "portrait.annotated"))
        assert drawn.shape == (240, 320, 3)
        x, y, w, h = result["faces"][0]["box"]
        np.testing.assert_allclose(drawn[y + h // 2, x], (60, 220, 60), atol=40)  # the box's green left side
        original = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
        assert np.abs(original[y + h // 2, x].astype(int) - (60, 220, 60)).max() > 40  # not there before


@pytest.mark.parametrize("mode", ["queue", "per-frame"])
def test_a_photos_face_is_predicted_as_the_same_face_in_a_one_frame_video(tmp_path, mode):
    """The photo's frame decoded and scaled as a video's (640 wide: 480), its face found, cropped
    and given the window a one-frame video gets: the same probabilities (a face cropped from the
    photo at its own size moves them by 3e-5 here)."""
    photo = _write(tmp_path / "face.png", _face(3, (640, 480)))
    clip = tmp_path / "face.mkv"  # the same picture, the PNG stream as a one-frame video
    subprocess.run([video.ffmpeg(), "-v", "error", "-i", photo, "-c:v", "copy", str(clip)], check=True)
    args = ["--preset", FACES, "--mode", mode, "--out", str(tmp_path / "out")]
    [as_photo] = cli.run(cli.parse([photo, *args]))
    [as_video] = cli.run(cli.parse([str(clip), *args]))
    [face], [row] = as_photo["faces"], as_video["rows"]
    assert row["face"] and face["label"] == row["label"]
    assert face["probabilities"] == row["probabilities"]  # the same pixels in, the same numbers out


@pytest.fixture(scope="module")
def voice_export(tmp_path_factory):
    model = models.build("wave_cnn1d", frames=4)
    return export.export(model, str(tmp_path_factory.mktemp("exports")), "voice", ravdess.EMOTIONS, version=1)


def test_a_model_that_reads_no_faces_is_refused_on_a_photo_in_one_line(tmp_path, capsys, voice_export):
    photo = _write(tmp_path / "portrait.png", _face())
    for given, described in (
        (["--preset", "ravdess_speech_whisper"], "preset ravdess_speech_whisper reads voice"),
        (["--model", voice_export], "reads voice"),
    ):
        assert predict([photo, *given, "--out", str(tmp_path / "out")]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"emorec-predict: {photo} is a photo, and ") and described in line, line
        assert line.endswith(f"give a preset of faces alone (--preset {FACES}) or a model that takes faces alone")
    assert not list((tmp_path / "out").iterdir())


def test_a_folder_predicts_its_photos_as_photos_and_its_clips_as_clips(tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _write(folder / "a_face.png", _face())
    clip = ravdess.Clip(1, 1, 3, 1, 1, 1, 1)
    synthetic.write_mp4(str(folder / "b_clip.mp4"), synthetic.render_frames(clip, (160, 120), 8), None)
    _write(folder / "c_wall.webp", np.full((120, 160, 3), 128, np.uint8))
    (folder / "d_notes.txt").write_text("not media")
    assert predict([str(folder), "--preset", FACES, "--out", str(tmp_path / "out")]) == 0
    run = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a_face.faces.csv",
        "a_face.faces.json",
        "b_clip.timeline.csv",
        "b_clip.timeline.json",  # and no plot: the clip is one prediction
    ]
    assert "a_face.png: 1 face" in run.out and "b_clip.mp4: 1 prediction" in run.out
    assert "c_wall.webp: no face found" in run.out
    assert f"note: {folder / 'd_notes.txt'}: not an audio, video or photo file" in run.err


def test_real_stills_upright_or_turned_by_their_exif_orientation(tmp_path, capsys):
    """RAVDESS stills (398 x 224): one face each, two side by side; a phone's JPEG stored on its
    side with EXIF orientation 6 is read upright, with the upright photo's box."""
    image = pytest.importorskip("PIL.Image")
    stills = real_ravdess() / "actor_stills"
    first, second = (cv2.cvtColor(cv2.imread(str(stills / f"Actor_{a:02d}.png")), cv2.COLOR_BGR2RGB) for a in (5, 2))
    [upright] = cli.run(cli.parse([str(stills / "Actor_05.png"), "--out", str(tmp_path / "out")]))
    [face] = upright["faces"]
    assert _inside(face["box"], 398, 224) and face["box"][2] > 80
    exif = image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.fromarray(np.rot90(first)).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    [turned] = cli.run(cli.parse([str(tmp_path / "turned.jpg"), "--out", str(tmp_path / "out")]))
    np.testing.assert_allclose(turned["faces"][0]["box"], face["box"], atol=4)
    [pair] = cli.run(
        cli.parse([_write(tmp_path / "pair.png", np.concatenate([first, second], 1)), "--out", str(tmp_path / "out")])
    )
    assert len(pair["faces"]) == 2 and pair["faces"][0]["box"][0] < 398 <= pair["faces"][1]["box"][0]
