"""exercises/safe_files.py on its own: nothing a student controls is followed or read whole.
Quick (no nbgrader); the graded attacks are in test_grading_attacks.py."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import pytest

from paths import EXERCISES, load_module

safe_files = load_module(EXERCISES / "safe_files.py")


def test_copy_tree_copies_regular_files_only(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    (src / "a.ipynb").write_text("{}")
    (src / "sub" / "b.txt").write_text("b")
    secret = tmp_path / "gradebook.db"
    secret.write_text("grades")
    os.symlink(secret, src / "link.ipynb")
    os.symlink(tmp_path, src / "dirlink")
    os.mkfifo(src / "fifo")
    (src / "x.ipynb").mkdir()
    report = safe_files.copy_tree(src, dst)
    assert sorted(str(p.relative_to(dst)) for p in dst.rglob("*")) == ["a.ipynb", "sub",
                                                                      "sub/b.txt"]
    assert sorted(report) == ["skipped dirlink: a symbolic link", "skipped fifo: a FIFO",
                              "skipped link.ipynb: a symbolic link",
                              "skipped x.ipynb: a folder named like a file"]
    with pytest.raises(OSError):  # the folder itself may not be a link either
        safe_files.copy_tree(src / "dirlink", tmp_path / "other")


def test_copy_tree_caps_sizes(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "big").write_bytes(b"x" * 5000)
    (src / "small").write_bytes(b"x" * 10)
    report = safe_files.copy_tree(src, tmp_path / "dst", file_limit=1000)
    assert report[0].startswith("skipped big: too large")
    assert sorted(os.listdir(tmp_path / "dst")) == ["small"]


def test_read_capped_refuses_links_devices_and_large_files(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    os.symlink(tmp_path / "f", tmp_path / "l")
    assert safe_files.read_capped(tmp_path / "f") == b"abc"
    with pytest.raises(OSError):
        safe_files.read_capped(tmp_path / "l")
    with pytest.raises(OSError):
        safe_files.read_capped("/dev/zero")
    with pytest.raises(safe_files.TooLarge):
        safe_files.read_capped(tmp_path / "f", limit=2)


def test_archives_skip_bad_members_and_file_the_rest(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
        for name in ("../up.txt", "/abs.txt", "ok/a.ipynb", "a/../../b.txt"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tarred.addfile(info, io.BytesIO(b"x"))
        for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
            link = tarfile.TarInfo(f"link{kind.decode()}.ipynb")
            link.type, link.linkname = kind, "/etc/passwd"
            tarred.addfile(link)
        dev = tarfile.TarInfo("dev")
        dev.type = tarfile.CHRTYPE
        tarred.addfile(dev)
    (tmp_path / "s.tar.gz").write_bytes(buffer.getvalue())
    out = tmp_path / "out" / "inner"
    report = safe_files.extract_archive(tmp_path / "s.tar.gz", out)
    assert [str(p.relative_to(out)) for p in sorted(out.rglob("*"))] == ["ok", "ok/a.ipynb"]
    assert len(report) == 6 and not (tmp_path / "out" / "up.txt").exists()

    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zipped:
        zipped.writestr("../z.txt", "x")
        zipped.writestr("w/a.ipynb", "{}")
        zipped.writestr("w/a.ipynb", "{}")  # a second member of the same name
        info = zipfile.ZipInfo("zlink")
        info.external_attr = 0o120777 << 16
        zipped.writestr(info, "/etc/passwd")
    report = safe_files.extract_archive(tmp_path / "z.zip", tmp_path / "zout")
    assert sorted(os.listdir(tmp_path / "zout" / "w")) == ["a.ipynb"]
    assert any("a symbolic link" in line for line in report)
    assert any("outside" in line for line in report)
    assert any("second member" in line for line in report)
    assert not (tmp_path / "zout" / "zlink").exists()
