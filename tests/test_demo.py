from emorec import demo, ravdess

from conftest import real_ravdess


def test_describe_counts_clips_per_emotion_and_actor_and_lists_folds(sample_dir):
    text = demo.describe(ravdess.scan(str(sample_dir)), num_folds=3)
    assert "12 clips (6 audio-only, 6 audio-video) from 2 actors" in text
    assert "| angry | 2 | 2 |" in text
    assert "| calm |  |  |" in text
    assert "folds" not in text  # 2 actors are too few for folds


def test_describe_real_audio(tmp_path):
    text = demo.describe(ravdess.scan(str(real_ravdess()), modalities=(3,)), num_folds=5)
    assert text.startswith("1200 clips (1200 audio-only) from 20 actors")
    assert "| 5 | (17, 18, 19, 20) | (1, 2, 3, 4) |" in text
