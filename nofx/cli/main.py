"""The ``nofx`` command. Sub-apps from other modules are mounted when their module imports, so a
missing optional dependency of one area never breaks the rest of the CLI."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from nofx import __version__
from nofx.cli.errors import report_error

app = typer.Typer(
    name="nofx",
    help="AI-driven quantitative trading for China A-shares and Hong Kong stocks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()


def _version(value: bool) -> None:
    if value:
        console.print(f"nofx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """nofx: data -> research -> backtest -> paper/live trading, one engine."""


from nofx.cli import backtest as _backtest  # noqa: E402

app.command("backtest")(_backtest.backtest)
app.command("demo")(_backtest.demo)
app.command("strategies")(_backtest.strategies)

# (module, attribute, mount name or None for commands added at the top level)
_SUBAPPS: list[tuple[str, str, str | None]] = [
    ("nofx.cli.data", "app", "data"),
    ("nofx.cli.factors", "app", "factors"),
    ("nofx.cli.model", "app", "model"),
    ("nofx.cli.rl", "app", "rl"),
    ("nofx.cli.ledger", "app", None),
    ("nofx.cli.paper", "app", None),
    ("nofx.cli.sweep", "app", None),
    ("nofx.cli.bench", "app", None),
]


def _mount() -> None:
    for module, attr, name in _SUBAPPS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                continue  # that area is not part of this build
            raise
        sub = getattr(mod, attr, None)
        if sub is None:
            continue
        if name is None:
            for cmd in sub.registered_commands:
                app.registered_commands.append(cmd)
            for grp in sub.registered_groups:
                app.registered_groups.append(grp)
        else:
            app.add_typer(sub, name=name)


_mount()


def main(argv: Optional[list[str]] = None) -> None:
    try:
        app(args=argv, prog_name="nofx")
    except SystemExit:
        raise
    except Exception as exc:  # user errors: one line, exit 2; anything else is a bug and shows
        report_error(exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
