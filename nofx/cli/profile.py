"""``nofx profile [--out profile.html] -- nofx backtest ...``: any nofx command under pyinstrument."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nofx.cli.outputs import check_output_file
from nofx.cli.terminal import output_console
from nofx.domain.errors import ConfigError

app = typer.Typer()
console = output_console()


@app.command("profile", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def profile(
    command: Optional[list[str]] = typer.Argument(None, help="the nofx command line to profile, after --"),
    out: Path = typer.Option(Path("profile.html"), "--out", help="HTML profile to write"),
    interval: float = typer.Option(0.001, min=0.0001, max=1.0, help="sampling interval in seconds"),
) -> None:
    """Run a nofx command in this process under pyinstrument and write an interactive HTML profile,
    e.g. ``nofx profile --out bt.html -- nofx backtest --strategy dual_ma``. The command's own output
    and exit status are kept."""
    from nofx.cli.main import main as nofx_main
    from nofx.observability.profile import profile_call

    argv = list(command or [])
    if argv and Path(argv[0]).name == "nofx":
        argv = argv[1:]
    if not argv:
        raise ConfigError("name the command to profile after --, e.g. nofx profile -- nofx backtest ...")
    if argv[0] == "profile":
        raise ConfigError("nofx profile cannot profile itself")
    check_output_file(out, "--out")

    def run() -> int:
        try:
            nofx_main(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return 0

    code, result, error = profile_call(run, out, interval)
    console.print(f"profile of `nofx {' '.join(argv)}`: {result.seconds:.2f} s, {result.samples:,d} samples -> "
                  f"{result.path}")
    if error is not None:
        raise error
    if code:
        raise typer.Exit(code)
