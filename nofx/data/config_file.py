"""Read a TOML or YAML settings file into a mapping, with every way the file itself can be wrong
(missing, a folder, unreadable, not UTF-8, not TOML/YAML, not a table) turned into one
:class:`~nofx.domain.errors.ConfigError` line naming the file and, where the parser knows it, the line.

Run configs (``nofx backtest/paper --config``) and RL experiment files both come through here; what the
values mean is validated afterwards by their pydantic models.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from nofx.domain.errors import ConfigError, one_line


def read_config_mapping(path: str | Path, *, yaml_allowed: bool = True) -> dict[str, Any]:
    """The file's top-level table: TOML for a ``.toml`` file (or always, without ``yaml_allowed``), else YAML.

    Raises ConfigError (file=..., line=... when known)."""
    p = Path(path)
    source = str(p)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=source) from None
    except IsADirectoryError:
        raise ConfigError("config path is a folder, not a file", file=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc}", file=source) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"config file is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
                          file=source, line=line) from None
    is_yaml = yaml_allowed and p.suffix.lower() != ".toml"
    try:
        raw = yaml.safe_load(text) if is_yaml else tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot parse config (TOML): {one_line(exc)}", file=source) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = {"line": mark.line + 1, "column": mark.column + 1} if mark is not None else {}
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise ConfigError(f"cannot parse config (YAML): {one_line(what)}", file=source, **where) from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: YAML's bad timestamps/ints
        kind = "YAML" if is_yaml else "TOML"
        raise ConfigError(f"cannot parse config ({kind}): {one_line(exc)}", file=source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("config must be a table/mapping at the top level", file=source)
    return raw
