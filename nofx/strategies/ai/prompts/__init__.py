"""Prompt templates shipped with nofx (English and Chinese), read as package data.

Templates use ``$name`` placeholders (``string.Template``), so JSON braces in them need no escaping:
``$role``, ``$market``, ``$rules``, ``$limits``, ``$schema``, ``$style``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nofx.domain.errors import ConfigError

ROLE_FILES = {"trader": "trader.md", "analyst": "analyst.md", "risk": "risk.md", "risk_reviewer": "risk.md"}


def shipped(language: str, name: str) -> str:
    """A shipped template: ``name`` is ``trader``, ``analyst``, ``risk`` or ``rules_cn``/``rules_hk``."""
    fname = ROLE_FILES.get(name, f"{name}.md")
    try:
        return resources.files(__package__).joinpath(language, fname).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no shipped prompt {name!r} for language {language!r}", prompt=name) from None


def load_template(path: str | None, language: str, role: str) -> str:
    """The user's template file if given (a prompt the user can edit), else the shipped one."""
    if path is None:
        return shipped(language, role)
    p = Path(path)
    if not p.is_file():
        raise ConfigError("prompt template file not found", prompt_template=str(p))
    return p.read_text(encoding="utf-8")
