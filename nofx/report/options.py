"""Report options checked by commands before they run (kept free of plotly, so checking is cheap)."""

from __future__ import annotations

from typing import Literal

from nofx.domain.errors import ConfigError

PlotlyMode = Literal["shared", "inline-gz", "inline"]
PLOTLY_MODES: tuple[str, ...] = ("shared", "inline-gz", "inline")


def check_plotly_mode(mode: str, option: str = "--plotly") -> PlotlyMode:
    if mode not in PLOTLY_MODES:
        raise ConfigError(f"{option} must be one of {', '.join(PLOTLY_MODES)}", plotly=mode)
    return mode  # type: ignore[return-value]
