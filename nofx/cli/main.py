"""The ``nofx`` command. Sub-apps from other modules are mounted when their module imports, so a
missing optional dependency of one area never breaks the rest of the CLI."""

from __future__ import annotations

import importlib
import sys
from typing import Optional

import typer
from typer.exceptions import Abort, TyperException

from nofx import __version__
from nofx.cli.errors import BUG_EXIT, USER_ERROR_EXIT, report_bug, report_error, user_error_text
from nofx.cli.terminal import output_console

app = typer.Typer(
    name="nofx",
    help="AI-driven quantitative trading for China A-shares and Hong Kong stocks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = output_console()


def _version(value: bool) -> None:
    if value:
        console.print(f"nofx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit"),
          log_json: bool = typer.Option(False, "--log-json", help="log records as JSON lines on stderr (also "
                                        "$NOFX_LOG_FORMAT=json)")) -> None:
    """nofx: data -> research -> backtest -> paper/live trading, one engine."""
    import os

    if log_json or os.environ.get("NOFX_LOG_FORMAT"):
        from nofx.observability.logs import configure_logging

        if log_json:
            os.environ["NOFX_LOG_FORMAT"] = "json"  # processes this command starts log the same way
        configure_logging(os.environ.get("NOFX_LOG_LEVEL", "INFO"))


from nofx.cli import backtest as _backtest  # noqa: E402

app.command("backtest")(_backtest.backtest)
app.command("demo")(_backtest.demo)
app.command("strategies")(_backtest.strategies)

# Sub-apps by the command names they provide: (module, mount name or None for top-level commands).
# Only the module a command line needs is imported, so `nofx backtest` never pays for torch or ray.
_SUBAPPS: dict[str, tuple[str, str | None]] = {
    "data": ("nofx.cli.data", "data"),
    "factors": ("nofx.cli.factors", "factors"),
    "model": ("nofx.cli.model", "model"),
    "rl": ("nofx.cli.rl", "rl"),
    "orders": ("nofx.cli.ledger", None),
    "positions": ("nofx.cli.ledger", None),
    "trades": ("nofx.cli.ledger", None),
    "ledger": ("nofx.cli.ledger", None),
    "paper": ("nofx.cli.paper", None),
    "sweep": ("nofx.cli.sweep", None),
    "serve": ("nofx.cli.serve", None),
    "user": ("nofx.cli.serve", None),
    "ai": ("nofx.cli.ai", None),
    "decisions": ("nofx.cli.ai", None),
    "profile": ("nofx.cli.profile", None),
    "compete": ("nofx.cli.compete", None),
    "system": ("nofx.cli.system", None),
}
_mounted: set[str] = set()


def _mount(module: str, name: str | None) -> None:
    if module in _mounted:
        return
    _mounted.add(module)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return  # that area is not part of this build
        raise
    sub = getattr(mod, "app", None)
    if sub is None:
        return
    if name is None:
        app.registered_commands.extend(sub.registered_commands)
        app.registered_groups.extend(sub.registered_groups)
    else:
        app.add_typer(sub, name=name)


def mount_for(argv: list[str]) -> None:
    """Mount what ``argv`` needs: the named command's module, or everything for bare help."""
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in _SUBAPPS:
        _mount(*_SUBAPPS[first])
    elif first is None or first == "help":
        for module, name in dict.fromkeys(_SUBAPPS.values()):
            _mount(module, name)


def main(argv: Optional[list[str]] = None) -> None:
    """Run a command line. Exit codes: 0 done, 1 the command's own "found problems" (``data check``,
    ``ledger check``), 2 bad input (one line on stderr), 70 an internal error (a bug: one line too)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        mount_for(args)
        # standalone_mode=False hands click's usage errors to the one error mapping (one line, exit 2)
        code = app(args=args, prog_name="nofx", standalone_mode=False)
    except SystemExit:
        raise
    except Abort:  # Ctrl-C outside a command's own handling
        sys.exit(130)
    except TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `nofx data` alone: the help text, as click shows it
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)
        report_error(exc)
        sys.exit(USER_ERROR_EXIT)
    except Exception as exc:
        if user_error_text(exc) is None:
            report_bug(exc, " ".join(["nofx", *_command_words(args)]))
            sys.exit(BUG_EXIT)
        report_error(exc)
        sys.exit(USER_ERROR_EXIT)
    sys.exit(code if isinstance(code, int) else 0)


def _command_words(args: list[str]) -> list[str]:
    """The command (and sub-command) named on the line, without options and values."""
    words: list[str] = []
    for a in args:
        if a.startswith("-") or len(words) == 2:
            break
        words.append(a)
    return words


if __name__ == "__main__":
    main()
