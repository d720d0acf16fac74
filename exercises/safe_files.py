"""Reading and copying files a student controls, without ever following their links.

Everything a submission holds, and everything a kernel leaves in its scratch folder, is
hostile: a symbolic link to ``gradebook.db``, a FIFO that blocks a reader, a device, a folder
named ``x.ipynb``, a 2 GiB file. The grader only goes through these functions:

- :func:`copy_tree` copies the regular files of a folder (and its sub-folders), opening each
  with ``O_NOFOLLOW`` relative to its already-opened parent folder, and skips anything else
  with a line saying what and why;
- :func:`read_capped` reads one regular file, refusing more than a cap;
- :func:`extract_archive` unpacks a zip or tar member by member: members with an absolute
  path, a ``..`` part, links, devices, or too many bytes are skipped and reported, the rest
  is written with ``O_CREAT | O_EXCL | O_NOFOLLOW``.

>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as tmp:
...     src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
...     os.makedirs(os.path.join(src, "x.ipynb"))
...     with open(os.path.join(src, "a.ipynb"), "w") as f:
...         _ = f.write("{}")
...     os.symlink("/etc/passwd", os.path.join(src, "b.ipynb"))
...     report = copy_tree(src, dst)
...     sorted(os.listdir(dst)), report
(['a.ipynb'], ['skipped b.ipynb: a symbolic link', 'skipped x.ipynb: a folder named like a file'])
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import List, Optional, Union

PathLike = Union[str, Path]
FILE_BYTES = 64 * 2**20      # the most bytes of one copied or extracted file
TOTAL_BYTES = 256 * 2**20    # the most bytes copied or extracted in all, per call
MAX_FILES = 2000
CHUNK = 2**20
# Folders with these endings are named like files: a folder "x.ipynb" is refused.
FILE_LIKE = (".ipynb", ".txt", ".py", ".json", ".csv", ".db")


class TooLarge(OSError):
    pass


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def open_regular(path: PathLike, dir_fd: Optional[int] = None) -> int:
    """A read-only descriptor of a regular file; raises OSError for a link, FIFO, device,
    folder (O_NOFOLLOW, O_NONBLOCK so a FIFO never blocks, then fstat)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                 dir_fd=dir_fd)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(f"{path}: {_kind(mode)}")
    return fd


def read_capped(path: PathLike, limit: int = FILE_BYTES, dir_fd: Optional[int] = None) -> bytes:
    """The bytes of a regular file, never following a link; TooLarge past ``limit``."""
    fd = open_regular(path, dir_fd)
    try:
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"{path}: more than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_new(dir_fd: int, name: str, source_fd: Optional[int], data: Optional[bytes],
               budget: List[int], limit: int) -> None:
    out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                  0o644, dir_fd=dir_fd)
    try:
        written = 0
        while True:
            chunk = data[written:written + CHUNK] if data is not None else os.read(source_fd,
                                                                                   CHUNK)
            if not chunk:
                break
            written += len(chunk)
            budget[0] -= len(chunk)
            if written > limit or budget[0] < 0:
                raise TooLarge(f"more than {min(limit, written)} bytes")
            os.write(out, chunk)
    except BaseException:
        os.close(out)
        os.unlink(name, dir_fd=dir_fd)
        raise
    os.close(out)


def write_new(path: PathLike, data: bytes) -> None:
    """Write a new file (never an existing one, never through a link)."""
    path = Path(path)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        _write_new(fd, path.name, None, data, [len(data) + 1], len(data) + 1)
    finally:
        os.close(fd)


def copy_tree(source: PathLike, target: PathLike, file_limit: int = FILE_BYTES,
              total_limit: int = TOTAL_BYTES, max_files: int = MAX_FILES,
              only: Optional[callable] = None) -> List[str]:
    """Copy the regular files under ``source`` (itself never a link) to ``target`` (made
    if missing); returns one line per entry skipped. ``only(relative_path)`` may restrict
    which files are copied (others are skipped silently)."""
    report: List[str] = []
    budget, count = [total_limit], [0]
    os.makedirs(target, exist_ok=True)
    src_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    dst_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def walk(sfd: int, dfd: int, prefix: str, depth: int) -> None:
        for name in sorted(os.listdir(sfd)):
            rel = prefix + name
            try:
                mode = os.stat(name, dir_fd=sfd, follow_symlinks=False).st_mode
            except OSError as error:
                report.append(f"skipped {rel}: {error.strerror}")
                continue
            if stat.S_ISDIR(mode):
                if name.lower().endswith(FILE_LIKE):
                    report.append(f"skipped {rel}: a folder named like a file")
                    continue
                if depth >= 8:
                    report.append(f"skipped {rel}: folders nested too deep")
                    continue
                try:
                    child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                    | os.O_CLOEXEC, dir_fd=sfd)
                except OSError as error:
                    report.append(f"skipped {rel}: {error.strerror}")
                    continue
                try:
                    try:
                        os.mkdir(name, 0o755, dir_fd=dfd)
                    except FileExistsError:
                        pass
                    out = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=dfd)
                    try:
                        walk(child, out, rel + "/", depth + 1)
                    finally:
                        os.close(out)
                finally:
                    os.close(child)
                continue
            if not stat.S_ISREG(mode):
                report.append(f"skipped {rel}: {_kind(mode)}")
                continue
            if only is not None and not only(rel):
                continue
            count[0] += 1
            if count[0] > max_files:
                report.append(f"skipped {rel}: more than {max_files} files")
                continue
            try:
                fd = open_regular(name, dir_fd=sfd)
            except OSError as error:
                report.append(f"skipped {rel}: {error.strerror or error}")
                continue
            try:
                _write_new(dfd, name, fd, None, budget, file_limit)
            except TooLarge as error:
                report.append(f"skipped {rel}: too large ({error})")
            except FileExistsError:
                report.append(f"skipped {rel}: already there")
            finally:
                os.close(fd)

    try:
        walk(src_fd, dst_fd, "", 0)
    finally:
        os.close(src_fd)
        os.close(dst_fd)
    return report


def safe_member_path(name: str) -> Optional[PurePosixPath]:
    """The relative path an archive member may be written to, or None (absolute, ``..``,
    empty, a drive letter or a backslash path)."""
    if not name or "\x00" in name or "\\" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", "") for part in path.parts) or (
            path.parts and ":" in path.parts[0]):
        return None
    parts = [p for p in path.parts if p != "."]
    return PurePosixPath(*parts) if parts else None


def _make_parents(root_fd: int, parts) -> int:
    fd = os.dup(root_fd)
    for part in parts:
        try:
            os.mkdir(part, 0o755, dir_fd=fd)
        except FileExistsError:
            pass
        child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                        dir_fd=fd)
        os.close(fd)
        fd = child
    return fd


def extract_archive(archive: PathLike, target: PathLike, file_limit: int = FILE_BYTES,
                    total_limit: int = TOTAL_BYTES, max_files: int = MAX_FILES) -> List[str]:
    """Unpack a zip or tar (gz, bz2, xz) archive member by member into ``target``; bad
    members are skipped, one line each in the returned report. The archive itself must be
    a regular file (opened without following links)."""
    report: List[str] = []
    budget = [total_limit]
    os.makedirs(target, exist_ok=True)
    root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    fd = open_regular(archive)
    handle = os.fdopen(fd, "rb")
    try:
        if zipfile.is_zipfile(handle):
            handle.seek(0)
            with zipfile.ZipFile(handle) as zipped:
                members = zipped.infolist()
                for count, info in enumerate(members):
                    if count >= max_files:
                        report.append(f"skipped {len(members) - count} members: more than "
                                      f"{max_files}")
                        break
                    mode = (info.external_attr >> 16) & 0o170000
                    if info.is_dir():
                        continue
                    if mode and not stat.S_ISREG(mode):
                        report.append(f"skipped {info.filename}: {_kind(mode)}")
                        continue
                    _extract_one(root_fd, info.filename, info.file_size,
                                 lambda: zipped.open(info), report, budget, file_limit)
        else:
            handle.seek(0)
            try:
                tarred = tarfile.open(fileobj=handle, mode="r:*")
            except tarfile.TarError:
                return [f"skipped {Path(archive).name}: not a zip or tar archive"]
            with tarred:
                for count, info in enumerate(tarred):
                    if count >= max_files:
                        report.append(f"skipped the members after {max_files}")
                        break
                    if info.isdir():
                        continue
                    if not info.isreg():
                        what = ("a symbolic link" if info.issym() else "a hard link"
                                if info.islnk() else "a device" if info.isdev() else
                                "a FIFO" if info.isfifo() else "not a regular file")
                        report.append(f"skipped {info.name}: {what}")
                        continue
                    _extract_one(root_fd, info.name, info.size,
                                 lambda: tarred.extractfile(info), report, budget, file_limit)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        report.append(f"stopped reading {Path(archive).name}: {error}")
    finally:
        handle.close()
        os.close(root_fd)
    return report


def _extract_one(root_fd, name, size, opener, report, budget, file_limit) -> None:
    path = safe_member_path(name)
    if path is None:
        report.append(f"skipped {name!r}: a path outside the archive's folder")
        return
    if size > file_limit:
        report.append(f"skipped {name}: too large ({size} bytes)")
        return
    try:
        parent = _make_parents(root_fd, path.parts[:-1])
    except OSError as error:
        report.append(f"skipped {name}: {error.strerror or error}")
        return
    try:
        with opener() as member:
            data = member.read(file_limit + 1)
        if len(data) > file_limit:
            report.append(f"skipped {name}: too large")
            return
        _write_new(parent, path.name, None, data, budget, file_limit)
    except FileExistsError:
        report.append(f"skipped {name}: a second member with this name")
    except TooLarge:
        report.append(f"skipped {name}: the archive holds too many bytes")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, RuntimeError) as error:
        report.append(f"skipped {name}: {error}")
    finally:
        os.close(parent)
