"""Writing a file so that a reader never sees it half-written; reading JSON so that a damaged file
stops with its name and line."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from lhmix.core.errors import LhmixError, MalformedInput


@contextlib.contextmanager
def replaced_on_success(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write; it replaces `path` only when the block succeeds,
    and is removed when it fails (a killed process leaves at most the hidden temporary file). The
    temporary name is unique, so two writers never share one."""
    path = Path(path)
    _make_folder(path)
    temporary = None
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
        temporary = Path(name)
        yield temporary
        give_usual_mode(temporary)
        os.replace(temporary, path)
    except OSError as error:
        # A failed write names the file the caller asked for, not the hidden temporary; an error
        # about some other file (read inside the block) passes through as it is.
        if error.filename not in (None, name_of(temporary), str(path), str(path.parent)):
            raise
        raise cannot_write(path, error.strerror or error) from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def cannot_write(path: str | Path, reason) -> LhmixError:
    """The one-line error of a write to `path` that failed (a full disk, a read-only folder)."""
    return LhmixError(f"{path}: cannot write ({reason}); check the free disk space and that {Path(path).parent} "
                      "is writable")


def name_of(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _make_folder(path: Path) -> None:
    """The folder of `path`; a file standing where a folder of its path should be is named."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(folder for folder in (path.parent, *path.parent.parents) if folder.is_file())
        raise LhmixError(f"{path}: cannot write: {blocker} is a file, not a folder") from None


def give_usual_mode(path: Path) -> None:
    """The mode open() or mkdir() would have given `path`: mkstemp and mkdtemp make theirs private
    (0600, 0700), which would leave shared outputs unreadable to the group."""
    everyone = 0o777 if path.is_dir() else 0o666
    os.chmod(path, everyone & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(obj, path: str | Path) -> None:
    """Pretty, sorted, newline-terminated JSON, written via a temporary file."""
    with replaced_on_success(path) as temporary:
        temporary.write_text(json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")


def write_torch(obj, path: str | Path) -> None:
    """torch.save via a temporary file, through a file handle: torch names the records inside its
    zip after a path's file name, and the temporary name is random, so equal objects would differ
    in bytes if saved to the path."""
    import torch

    with replaced_on_success(path) as temporary, open(temporary, "wb") as handle:
        try:
            torch.save(obj, handle)
        except RuntimeError as error:
            # torch's zip writer reports a failed write (a full disk, a file-size limit) as a RuntimeError
            # ("unexpected pos ..."), not as the OSError underneath
            raise cannot_write(path, f"the write failed inside torch.save: {str(error).strip()}") from None


def file_digest(*paths: Path) -> str:
    """SHA-256 of the bytes of `paths`, one after another, read in blocks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_json(path: str | Path):
    """A UTF-8 JSON file; a damaged one raises MalformedInput naming the file and line."""
    return parse_json(Path(path).read_bytes(), path)


def parse_json(raw: bytes, path: str | Path, line: int = 1):
    """`raw`, the bytes of `path` from line `line` on, as UTF-8 JSON (one line of a jsonl file, or a
    whole file); bytes that are not UTF-8 or text that is not JSON raise MalformedInput."""
    text = utf8_text(raw, path, line)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedInput(path, line + error.lineno - 1, f"not JSON ({error.msg})") from None


def utf8_text(raw: bytes, path: str | Path, line: int = 1) -> str:
    """`raw`, the bytes of `path` from line `line` on, decoded as UTF-8; a byte that is not raises
    MalformedInput naming its line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedInput(path, line + raw.count(b"\n", 0, error.start),
                             f"not UTF-8 (byte {raw[error.start]:#04x})") from None
