"""Output paths are checked before a command does its work, so a long run never ends in "cannot write".

A file output (``--json``, ``--report``, ``--html``, ``--output``) must not be a folder, and its nearest
existing ancestor must be a writable folder (missing folders below it are created when writing). A folder
output (``model train --out``, ``demo --out``) must not be a file. The check creates nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from nofx.domain.errors import ConfigError


def _existing_ancestor(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path(path.absolute().anchor)


def _check_folder_writable(folder: Path, option: str, path: Path) -> None:
    if not folder.is_dir():
        raise ConfigError(f"{option}: {folder} is a file, not a folder", path=str(path))
    if not os.access(folder, os.W_OK | os.X_OK):  # also false on a read-only filesystem, even for root
        raise ConfigError(f"{option}: cannot write in folder {folder} (read-only)", path=str(path))


def check_output_file(path: str | Path | None, option: str) -> Path | None:
    """``path`` (None passes) if a file can be written there; else ConfigError naming the option."""
    if path is None:
        return None
    p = Path(path)
    if not str(path).strip():
        raise ConfigError(f"{option} is empty")
    if p.is_dir():
        raise ConfigError(f"{option} names a folder, not a file", path=str(p))
    if p.exists():
        if not os.access(p, os.W_OK):
            raise ConfigError(f"{option}: file is read-only", path=str(p))
        _check_folder_writable(p.absolute().parent, option, p)
    else:
        _check_folder_writable(_existing_ancestor(p), option, p)
    return p


def check_output_folder(path: str | Path, option: str) -> Path:
    """``path`` if it is (or can be created as) a writable folder; else ConfigError naming the option."""
    p = Path(path)
    if not str(path).strip():
        raise ConfigError(f"{option} is empty")
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"{option} names a file, not a folder", path=str(p))
        _check_folder_writable(p, option, p)
    else:
        _check_folder_writable(_existing_ancestor(p), option, p)
    return p


def write_json_output(data: object, path: str | Path) -> None:
    """Write a command's JSON result (checked earlier by :func:`check_output_file`), creating its folder."""
    import json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str))
