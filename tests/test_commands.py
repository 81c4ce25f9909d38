"""The one runner of every command (`emorec.errors.guarded`): what a user can fix in one line
and exit status 2, anything else as the fault it is, with its traceback and where to report it."""

import os

import pytest

from emorec import errors, folders
from emorec.errors import UserError
from emorec.inference import cli, outputs


def test_a_user_error_is_one_line_and_exit_status_2(tmp_path, capsys):
    missing = tmp_path / "nowhere.mp4"
    assert errors.guarded("emorec-predict", cli.main, [str(missing), "--out", str(tmp_path / "out")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("emorec-predict: ") and str(missing) in line


def test_any_other_error_shows_its_traceback_and_where_to_report_it(tmp_path, monkeypatch, capsys):
    def broken(*_):
        raise TypeError("a fault in emorec")

    monkeypatch.setattr(cli, "check_out", broken)
    assert errors.guarded("emorec-predict", cli.main, [str(tmp_path / "clip.mp4"), "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "Traceback (most recent call last):" and "TypeError: a fault in emorec" in err
    assert err[-1] == (
        f"emorec-predict: this is a bug in emorec; please report it with the lines above at {errors.ISSUES}"
    )


def test_usage_errors_pass_through_as_argparse_says_them(capsys):
    with pytest.raises(SystemExit) as refused:
        errors.guarded("emorec-predict", cli.main, ["--no_such_flag"])
    assert refused.value.code == 2 and "unrecognized arguments: --no_such_flag" in capsys.readouterr().err


def test_a_full_disk_under_out_is_one_line_naming_the_file_and_leaves_no_json_as_if_complete(tmp_path):
    """A write that fails with ENOSPC (/dev/full) came out as an OSError traceback, and a json
    cut short stayed where a finished run's is."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    csv_path = tmp_path / "full" / "clip.timeline.csv"
    csv_path.parent.mkdir()
    csv_path.symlink_to("/dev/full")
    timeline = outputs.Timeline(str(tmp_path / "full"), "clip", ["happy"])
    with pytest.raises(UserError, match=str(csv_path)):
        timeline.add([{"time": 0.0, "frame": 0, "probabilities": {"happy": 1.0}, "label": "happy", "face": True}])
    (tmp_path / "json.timeline.json.partial").symlink_to("/dev/full")
    with pytest.raises(UserError, match=str(tmp_path / "json.timeline.json")):
        folders.write_whole(str(tmp_path / "json.timeline.json"), "{}" * 10000)
    assert not os.path.lexists(tmp_path / "json.timeline.json")
