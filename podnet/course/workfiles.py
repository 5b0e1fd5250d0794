"""The student's work directory: files written there, and the answers read back.

Mirrors what a lab guide hands a student (answers.yaml, captures): files are written without
ever following a symlink planted in the directory (a new file beside the target, renamed over
it), and answers are data loaded with ``yaml.safe_load``.
"""

from __future__ import annotations

import os

import yaml

from podnet.core.errors import InputError

ANSWERS = "answers.yaml"


def write_file(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` without ever following a symlink planted there: a new
    file (O_EXCL, O_NOFOLLOW) beside it, renamed over it (a rename replaces a link, not its
    target)."""
    directory = os.path.dirname(path)
    if os.path.islink(directory):
        raise InputError("work", directory, "is a symlink: podnet writes only into a real directory")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def load_answers(work: str) -> dict:
    path = os.path.join(work, ANSWERS)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        return {}
    except yaml.YAMLError:
        raise InputError("answers file", path, "is not valid YAML") from None
    return data if isinstance(data, dict) else {}
