"""Atomic writes: nothing half-written on failure, the usual file mode on success."""

import os
from pathlib import Path

import pytest

from synthcl.utils.atomic import atomic_path, write_text


def test_written_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "report.md", "hello")
    finally:
        os.umask(old)
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "report.md").read_text() == "hello"


def test_a_failure_leaves_neither_the_file_nor_a_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_right_after_the_temporary_is_created_leaves_nothing(tmp_path,
                                                                          monkeypatch):
    """A signal raises between any two bytecodes: even the one just after the file exists."""
    touch = Path.touch

    def touch_then_interrupt(self, *args, **kwargs):
        touch(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "touch", touch_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_text(tmp_path / "report.md", "hello")
    assert list(tmp_path.iterdir()) == []
