import itertools
import zipfile

import pytest

from emorec import ravdess
from emorec.errors import UserError
from emorec.ravdess import Clip


def test_parse_reads_every_field():
    clip = ravdess.parse("/data/Actor_12/01-01-06-02-02-01-12.mp4")
    assert clip == Clip(modality=1, vocal_channel=1, emotion=6, intensity=2, statement=2, repetition=1, actor=12)
    assert clip.emotion_name == "fearful"
    assert clip.gender == "female"
    assert ravdess.parse("03-02-02-01-01-02-07").gender == "male"


def test_format_is_the_inverse_of_parse_for_every_valid_name():
    names = 0
    for fields in itertools.product((1, 2, 3), (1, 2), range(1, 9), (1, 2), (1, 2), (1, 2), (1, 24)):
        name = "-".join(f"{v:02d}" for v in fields) + ".wav"
        try:
            clip = ravdess.parse(name)
        except ravdess.RavdessNameError:
            continue
        assert ravdess.format_name(clip, ".wav") == name
        names += 1
    # 3 modalities x 2 actors x 4 statement/repetition pairs x (speech 15 + song 11 emotion/intensity)
    assert names == 3 * 2 * 4 * (15 + 11)


@pytest.mark.parametrize(
    "name, field",
    [
        ("01-01-06-01-02-01.mp4", "6 field"),  # a field missing
        ("01-01-6-01-02-01-12.mp4", "emotion"),  # not two digits
        ("04-01-06-01-02-01-12.mp4", "modality"),
        ("01-03-06-01-02-01-12.mp4", "vocal channel"),
        ("01-01-09-01-02-01-12.mp4", "emotion"),
        ("01-01-06-03-02-01-12.mp4", "intensity"),
        ("01-01-06-01-03-01-12.mp4", "statement"),
        ("01-01-06-01-02-00-12.mp4", "repetition"),
        ("01-01-06-01-02-01-25.mp4", "actor"),
        ("01-01-01-02-02-01-12.mp4", "intensity"),  # neutral has no strong intensity
        ("01-02-07-01-02-01-12.mp4", "emotion"),  # no disgust in song
        ("IMG_2041.mp4", "7 two-digit"),
    ],
)
def test_malformed_names_say_file_and_field(name, field):
    with pytest.raises(ravdess.RavdessNameError) as error:
        ravdess.parse(f"/data/{name}")
    assert name in str(error.value)
    assert field in str(error.value)


def test_labels_for_8_and_7_classes():
    assert [ravdess.label(e) for e in range(1, 9)] == list(range(8))
    assert ravdess.label(1, num_classes=7) is None
    assert [ravdess.label(e, 7) for e in range(2, 9)] == list(range(7))
    assert ravdess.class_names(7) == ravdess.EMOTIONS[1:]
    with pytest.raises(ValueError, match="8 .* or 7"):
        ravdess.class_names(6)


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_scan_reads_folders_and_zips_in_place_and_reports_what_it_passes_over(tmp_path):
    _touch(tmp_path / "Actor_01" / "01-01-03-01-01-01-01.mp4")
    _touch(tmp_path / "Actor_01" / "03-01-03-01-01-01-01.wav")
    _touch(tmp_path / "Actor_01" / "notes.txt")  # not media: ignored
    _touch(tmp_path / "Actor_01" / "01-01-03-01-01-01.mp4")  # bad name: reported
    with zipfile.ZipFile(tmp_path / "Video_Speech_Actor_02.zip", "w") as z:
        z.writestr("Actor_02/01-01-05-02-01-01-02.mp4", b"video bytes")
        z.writestr("Actor_02/01-01-03-01-01-01-01.mp4", b"a clip already found")
    (tmp_path / "Audio_Speech_Actors_01-24.zip").write_bytes(b"not a zip")
    scan = ravdess.scan(str(tmp_path))

    assert [s.clip.name() for s in scan.sources] == [
        "01-01-03-01-01-01-01",
        "01-01-05-02-01-01-02",
        "03-01-03-01-01-01-01",
    ]
    zipped = scan.sources[1]
    assert zipped.member == "Actor_02/01-01-05-02-01-01-02.mp4"
    assert zipped.read() == b"video bytes"
    reasons = dict(scan.skipped)
    assert len(reasons) == 3
    assert "unparsable name" in reasons[str(tmp_path / "Actor_01" / "01-01-03-01-01-01.mp4")]
    assert "unreadable zip" in reasons[str(tmp_path / "Audio_Speech_Actors_01-24.zip")]
    # The same clip in a folder and in a zip: one is kept, the other reported as its duplicate.
    copies = {
        str(tmp_path / "Actor_01" / "01-01-03-01-01-01-01.mp4"),
        f"{tmp_path / 'Video_Speech_Actor_02.zip'}!Actor_02/01-01-03-01-01-01-01.mp4",
    }
    (duplicate,) = copies & set(reasons)
    assert reasons[duplicate] == f"duplicate: same clip as {(copies - {duplicate}).pop()}"

    audio_only = ravdess.scan(str(tmp_path), modalities=(3,))
    assert [s.extension for s in audio_only.sources] == [".wav"]


def test_scan_follows_linked_folders_and_names_a_link_loop(tmp_path):
    _touch(tmp_path / "elsewhere" / "01-01-03-01-01-01-01.mp4")
    root = tmp_path / "ravdess"
    root.mkdir()
    (root / "Actor_01").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere" / "again").symlink_to(root, target_is_directory=True)
    scan = ravdess.scan(str(root))
    assert [s.path for s in scan.sources] == [str(root / "Actor_01" / "01-01-03-01-01-01-01.mp4")]
    assert scan.skipped == [(str(root / "Actor_01" / "again"), f"link loop: leads back to {root}, read already")]


def test_scan_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(UserError, match="nowhere"):
        ravdess.scan(str(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    "num_folds, actors", [(6, ravdess.ACTORS), (5, range(1, 21)), (4, range(1, 24)), (24, ravdess.ACTORS)]
)
def test_folds_are_disjoint_and_cover_every_actor(num_folds, actors):
    folds = ravdess.folds(num_folds, actors)
    assert len(folds) == num_folds
    tested = []
    for fold in folds:
        train, val, test = map(set, (fold.train, fold.validation, fold.test))
        assert train and val and test
        assert not (train & val or train & test or val & test)
        assert train | val | test == set(actors)
        tested += fold.test
    assert sorted(tested) == sorted(actors)  # every actor is tested exactly once


def test_default_folds_follow_the_design():
    folds = ravdess.folds()
    for k, fold in enumerate(folds, start=1):
        assert fold.number == k
        assert fold.test == tuple(range(4 * k - 3, 4 * k + 1))
        assert fold.validation == folds[k % 6].test
    loao = ravdess.leave_one_actor_out()
    assert [f.test for f in loao] == [(a,) for a in ravdess.ACTORS]


def test_too_many_or_too_few_folds_are_refused():
    with pytest.raises(ValueError, match="between 3"):
        ravdess.folds(2)
    with pytest.raises(ValueError, match="between 3"):
        ravdess.folds(5, actors=(1, 2, 3, 4))
