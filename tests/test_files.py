"""Atomic writes: temporary files unique per writer, stale ones cleaned, live ones kept."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

from oasis_lab.files import (
    atomic_write,
    check_output_file,
    is_temp_file,
    remove_stale_temps,
)


def _temp(folder, target: str, pid: int):
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())
    path = folder / f".{target}.{host}-{pid}.0123456789abcdef.tmp"
    path.write_text("partial")
    return path


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("new, half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_stale_temporaries_go_live_ones_stay(tmp_path) -> None:
    dead_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True).stdout)
    stale = _temp(tmp_path, "a.txt", dead_pid)
    live = _temp(tmp_path, "a.txt", os.getpid())
    other_target = _temp(tmp_path, "b.txt", dead_pid)
    assert is_temp_file(stale) and is_temp_file(live)
    assert remove_stale_temps(tmp_path / "a.txt") == [stale]
    assert live.exists() and other_target.exists()


def test_writing_onto_a_directory_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="is a directory"), atomic_write(tmp_path, "w"):
        pass


def test_check_output_file(tmp_path) -> None:
    assert check_output_file("out", tmp_path / "new" / "x.csv") == tmp_path / "new" / "x.csv"
    with pytest.raises(ValueError, match="out = .* is a directory"):
        check_output_file("out", tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_output_file("out", blocker / "x.csv")
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(ValueError, match="is not writable"):
                check_output_file("out", locked / "x.csv")
        finally:
            locked.chmod(0o700)
