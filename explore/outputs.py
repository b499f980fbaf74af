"""Writing results safely: atomic, durable writes and free-space checks.

`write_atomic` is the one way `explore` writes a result file (checkpoints, run histories, the
CLI's labels and metrics): the bytes go to a temporary file `.NAME.tmp-PID` in the same folder,
which is flushed and fsynced, renamed over `NAME`, and the folder is fsynced. A kill at any
moment leaves either the previous file or the new one under `NAME`, never a mix, and the rename
survives a power loss once `write_atomic` returns. A kill leaves its temporary file behind: the
next write of `NAME` removes the temporaries of processes that no longer exist.

`check_free_space` compares an estimate of what a run will write with the free space of the
folder's filesystem, so a full disk is reported before the work rather than after it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from explore.errors import OutputError

_DISK_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def temporary_path(path: Path) -> Path:
    """Where this process stages a write of `path`."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, owned by another user
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files of `path` (`.NAME.tmp-PID`, or `.NAME.tmp-PID.EXT` for a
    staging file) whose process is gone (killed during a write); a live process's temporary
    file is left alone. Returns what was removed."""
    path = Path(path)
    if os.name != "posix":
        return []
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.tmp-(\d+)(\.[A-Za-z0-9]+)?$")
    removed = []
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return []
    for candidate in candidates:
        match = pattern.match(candidate.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _process_exists(pid):
            continue
        try:
            candidate.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue  # not ours to remove (permissions): harmless, only space
        removed.append(candidate)
    return removed


def fsync_file(path: Path) -> None:
    """Flush a closed file's data to the disk (before renaming it into place)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable (best effort: some filesystems refuse)."""
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _os_error_in(error: BaseException) -> OSError | None:
    """The OSError behind `error` (torch.save turns a failed write into a RuntimeError whose
    context is the OSError)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(handle)` on a temporary file next to `path`, make it durable, rename it to
    `path`. On failure the temporary file is removed and `path` is unchanged; a failed write
    (disk full, file size limit, I/O error) raises `OutputError` naming the file and cause."""
    path = Path(path)
    remove_stale_temporaries(path)
    temporary = temporary_path(path)
    try:
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except Exception as error:
        cause = _os_error_in(error)
        if cause is None or isinstance(error, OutputError):
            raise
        reason = cause.strerror or str(cause) or type(cause).__name__
        full = " (disk full or file size limit)" if cause.errno in _DISK_FULL else ""
        raised = OutputError(
            f"cannot write {path}: {reason}{full}; nothing partial is left"
            + (" (the previous file is unchanged)" if path.exists() else "")
        )
        raised.errno = cause.errno  # (not strerror: OSError's str() would then drop the message)
        raised.reason = reason + full
        raise raised from error
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    fsync_folder(path.parent)
    return path


def format_bytes(count: int) -> str:
    """`12,345,678 bytes (11.8 MiB)`."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    human = f" ({value:.1f} {unit})" if count >= 1024 else ""
    return f"{count:,} bytes{human}"


def check_free_space(folder: str | Path, needed: int, *, what: str, reclaimable: int = 0) -> None:
    """OutputError when the filesystem of `folder` has less than `needed` bytes free (plus
    `reclaimable`: bytes of files the outputs will replace). `what` names the outputs."""
    folder = Path(folder)
    free = shutil.disk_usage(folder).free
    if free + reclaimable < needed:
        raised = OutputError(
            f"not enough space in {folder} for {what}: about {format_bytes(needed)} needed, "
            f"{format_bytes(free)} free"
        )
        raised.errno = errno.ENOSPC
        raise raised
