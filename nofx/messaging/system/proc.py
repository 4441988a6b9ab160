"""Entry point of a system's processes: ``python -m nofx.messaging.system.proc ROLE --spec FILE
[--trader ID]`` with ROLE ``market_data``, ``engine`` or ``strategy``. Prints ``ready`` once it is
connected (what the supervisor waits for); SIGINT/SIGTERM stop it cleanly. A user error is one line on
stderr and exit code 2."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from pydantic import ValidationError

from nofx.domain.errors import NofxError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="nofx-system-proc")
    ap.add_argument("role", choices=["market_data", "engine", "strategy"])
    ap.add_argument("--spec", required=True)
    ap.add_argument("--trader")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"%(asctime)s {a.role}{'-' + a.trader if a.trader else ''} %(levelname)s %(message)s")
    from nofx.messaging.system.spec import SystemSpec

    try:
        spec = SystemSpec.read(a.spec)
        if a.role == "market_data":
            from nofx.messaging.system.market_data import main_async as md_main

            return asyncio.run(md_main(spec))
        if a.role == "engine":
            from nofx.messaging.system.engine_service import main_async as engine_main

            return asyncio.run(engine_main(spec))
        if not a.trader:
            print("error: a strategy process needs --trader", file=sys.stderr)
            return 2
        from nofx.messaging.system.strategy_service import main_async as strategy_main

        return asyncio.run(strategy_main(spec, a.trader))
    except (NofxError, ValidationError, OSError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    import os

    if os.environ.get("NOFX_PROFILE_DIR"):  # development aid: a cProfile of each process
        import cProfile

        prof = cProfile.Profile()
        rc = prof.runcall(main)
        prof.dump_stats(os.path.join(os.environ["NOFX_PROFILE_DIR"], f"{sys.argv[1]}-{os.getpid()}.prof"))
        raise SystemExit(rc)
    raise SystemExit(main())
