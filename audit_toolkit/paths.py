"""Local paths the toolkit writes: each inside the folder the user named, never among the evidence.

An S3 key or a manifest entry comes from whoever wrote the bucket; it becomes a local path only
if every part of it is a plain name (`key_problem`) and the joined path, symlinks resolved, stays
inside the folder (`inside`). A folder the toolkit writes (a store, a report) and the evidence it
reads are never one inside the other (`refuse_overlap`): no write, rename or sweep touches evidence.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from .errors import EvidenceError, OutputError

NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems alike


def key_problem(key: str) -> str | None:
    """Why `key` (parts separated by '/') cannot be a path under a folder; None if it can."""
    if not key:
        return "empty key"
    if key.startswith("/"):
        return "starts with '/' (an absolute path)"
    if "\x00" in key:
        return "holds a NUL character"
    for part in key.split("/"):
        if part == "":
            return "has an empty part ('//' or a trailing '/')"
        if part in (".", ".."):
            return f"has a {part!r} part"
        if len(os.fsencode(part)) > NAME_MAX:
            return f"has a part longer than {NAME_MAX} bytes, too long for a file name"
    return None


def inside(root: Path, key: str) -> Path:
    """`root/key`; EvidenceError unless the key is plain and the path, resolved, is under root."""
    problem = key_problem(key)
    if problem is None:
        path = root.joinpath(*key.split("/"))
        if path.resolve().is_relative_to(root.resolve()):
            return path
        problem = "leads outside the folder (through a symbolic link)"
    raise EvidenceError(f"{key!r} {problem}")


def refuse_overlap(folder: str | Path, evidence: str | Path, what: str,
                   holding_ok: bool = False) -> None:
    """Refuse a folder to write (`what`: 'the store') that is, lies inside or holds the evidence.

    `holding_ok`: a folder above the evidence is allowed (a report's fixed file names beside it);
    a store is never, since it sweeps what it left there.
    """
    mine, theirs = Path(folder).resolve(), Path(evidence).resolve()
    if mine == theirs:
        where = "is"
    elif mine.is_relative_to(theirs):
        where = "is inside"
    elif theirs.is_relative_to(mine) and not holding_ok:
        where = "holds"
    else:
        return
    raise EvidenceError(f"{what} {folder} {where} the evidence {evidence}: nothing is ever written "
                        "among the evidence; give a folder apart from it")


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary name then rename: a reader sees the old file or the new one, and a
    symbolic link planted at `path` is replaced, not followed out of the folder."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from e
