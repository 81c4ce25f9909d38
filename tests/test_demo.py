import sys

from emorec import demo, ravdess

from conftest import real_ravdess


def test_describe_counts_clips_per_emotion_and_actor_and_lists_folds(sample_dir):
    text = demo.describe(ravdess.scan(str(sample_dir)), num_folds=3)
    assert "12 clips (6 audio-only, 6 audio-video) from 2 actors" in text
    assert "| angry | 2 | 2 |" in text
    assert "| calm |  |  |" in text
    assert "folds" not in text  # 2 actors are too few for folds


def test_describe_real_audio(tmp_path):
    """Counted from the folder itself, so any download (20 actors here, 24 in full) checks it."""
    folder = real_ravdess() / "Audio_Speech_Actors_01-24"
    wavs = sorted(folder.glob("Actor_*/03-01-*.wav"))
    actors = sorted({int(p.parent.name.split("_")[1]) for p in wavs})
    folds = len(actors) // 4
    text = demo.describe(ravdess.scan(str(real_ravdess()), modalities=(3,)), num_folds=folds)
    assert text.startswith(f"{len(wavs)} clips ({len(wavs)} audio-only) from {len(actors)} actors")
    assert f"| {folds} | {tuple(actors[-4:])} | {tuple(actors[:4])} |" in text


def test_quiet_keeps_what_libraries_print_in_the_log_and_off_the_terminal(tmp_path, capfd):
    import os

    log = tmp_path / "stage.log"
    with demo.quiet(str(log)) as terminal:
        os.write(2, b"C++ notice on stderr\n")  # what TFLite's delegate prints, below Python
        print("a library's print")
        sys.stderr.write("a deprecation a user cannot act on\n")  # where warnings and absl's lines go
        terminal.write("the stage's own bar\n")
    shown = capfd.readouterr()
    kept = log.read_text()
    assert "C++ notice" in kept and "a library's print" in kept and "a deprecation" in kept
    assert "C++ notice" not in shown.err + shown.out and "a library's print" not in shown.out
    assert "the stage's own bar" in shown.err
