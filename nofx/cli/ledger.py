"""Ledger commands: ``orders``, ``positions``, ``trades`` and the group ``ledger`` with ``check``.

``app`` holds the three listing commands and the ``ledger`` group: mounting its commands and groups at the
top level (as nofx.cli.main does) gives ``nofx orders``, ``nofx positions``, ``nofx trades`` and
``nofx ledger check``. User errors raise NofxError (the main app prints them as one line).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from nofx.cli.terminal import output_console
from nofx.domain.errors import ConfigError

if TYPE_CHECKING:  # SQLAlchemy is imported when a command runs, not for `nofx --help`
    from nofx.persistence import KeysetCursor, SqlLedgerStore

app = typer.Typer(help="Inspect the trading ledger (orders, positions, trades) and check its consistency.",
                  no_args_is_help=True)
ledger_app = typer.Typer(help="Ledger integrity checks.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")

DbOpt = Annotated[str | None, typer.Option(
    "--db", help="Database URL or SQLite file path [default: $NOFX_DB_URL, else sqlite:///nofx.db].")]
TraderOpt = Annotated[str | None, typer.Option("--trader", help="Trader id [default: the most recently created].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, max=10_000, help="Rows per page.")]
AfterOpt = Annotated[str | None, typer.Option("--after", help="Page cursor printed by the previous page.")]


def _open(db: str | None) -> SqlLedgerStore:
    from pathlib import Path

    from nofx.persistence import SqlLedgerStore, resolve_url
    from nofx.persistence.urls import sqlite_path

    url = resolve_url(db)
    path = sqlite_path(url)
    if path is not None and not Path(path).exists():  # reading must not create an empty ledger
        raise ConfigError("no ledger database at this path (use --db or NOFX_DB_URL)", path=path)
    return SqlLedgerStore(url)


@contextmanager
def existing_ledger(db: str | None) -> Iterator[SqlLedgerStore]:
    """The store, with failures of the database itself (corrupted file, lost server) as one clear line."""
    from nofx.persistence import resolve_url
    from nofx.persistence.connection import database_errors

    url = resolve_url(db)
    with database_errors(url), _open(url) as store:
        yield store


def _trader(store: SqlLedgerStore, trader: str | None) -> str:
    if trader is not None:
        if store.get_trader(trader) is None:
            raise ConfigError("no such trader in the ledger", trader=trader)
        return trader
    traders = store.list_traders()
    if not traders:
        raise ConfigError("the ledger has no traders yet", db=repr(store))
    return traders[0].trader_id


def _jsonable(v: Any) -> Any:
    if isinstance(v, (Decimal, datetime, date)):
        return str(v) if isinstance(v, Decimal) else v.isoformat()
    if isinstance(v, Enum):
        return v.value
    if is_dataclass(v) and not isinstance(v, type):
        return {k: _jsonable(x) for k, x in asdict(v).items()}
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(_jsonable(obj), indent=2))


def _cursor(after: str | None) -> KeysetCursor | None:
    from nofx.persistence import KeysetCursor

    return None if after is None else KeysetCursor.decode(after)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Enum):
        return str(v.value)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, Decimal):  # at least cents, at most the 4 places the ledger stores
        text = f"{v.quantize(Decimal('0.0001')):f}".rstrip("0")
        whole, _, frac = text.partition(".")
        return f"{whole}.{frac.ljust(2, '0')}"
    return str(v)


def _table(title: str, columns: list[str], rows: list[list[Any]], caption: str | None = None) -> None:
    table = Table(title=title, caption=caption)
    for c in columns:
        table.add_column(c, justify="right" if c in {"qty", "filled", "price", "limit", "avg", "fees", "fee",
                                                       "avg cost", "realised", "quantity"} else "left")
    for r in rows:
        table.add_row(*(_fmt(x) for x in r))
    output_console(markup=False).print(table)


@app.command()
def orders(db: DbOpt = None, trader: TraderOpt = None, limit: LimitOpt = 50, after: AfterOpt = None,
           as_json: JsonOpt = False) -> None:
    """List orders in submission order (keyset-paginated)."""
    with existing_ledger(db) as store:
        tid = _trader(store, trader)
        page = store.list_orders(tid, after=_cursor(after), limit=limit)
    nxt = page.next_cursor.encode() if page.next_cursor else None
    if as_json:
        _echo_json({"trader_id": tid, "items": list(page.items), "next_cursor": nxt})
        return
    _table(f"orders of {tid}",
           ["order_id", "created", "symbol", "side", "type", "qty", "limit", "status", "filled", "avg", "fees",
            "client id"],
           [[o.order_id, o.created, o.symbol, o.side, o.order_type, o.quantity, o.limit_price, o.status,
             o.filled_qty, o.avg_fill_price if o.filled_qty else None, o.fees, o.client_order_id] for o in page.items],
           caption=f"next page: --after '{nxt}'" if nxt else None)


@app.command()
def positions(db: DbOpt = None, trader: TraderOpt = None, as_json: JsonOpt = False) -> None:
    """Open positions and cash."""
    with existing_ledger(db) as store:
        tid = _trader(store, trader)
        rows = store.list_positions(tid)
        cash = store.cash(tid)
    if as_json:
        _echo_json({"trader_id": tid, "cash": cash, "positions": rows})
        return
    _table(f"positions of {tid}", ["symbol", "quantity", "avg cost", "realised"],
           [[p.symbol, p.quantity, p.avg_cost, p.realised_pnl] for p in rows], caption=f"cash {_fmt(cash)}")


@app.command()
def trades(db: DbOpt = None, trader: TraderOpt = None, limit: LimitOpt = 50, after: AfterOpt = None,
           symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol.")] = None,
           as_json: JsonOpt = False) -> None:
    """List fills in time order (keyset-paginated)."""
    with existing_ledger(db) as store:
        tid = _trader(store, trader)
        page = store.list_fills(tid, after=_cursor(after), limit=limit, symbol=symbol)
    nxt = page.next_cursor.encode() if page.next_cursor else None
    if as_json:
        _echo_json({"trader_id": tid, "items": list(page.items), "next_cursor": nxt})
        return
    _table(f"trades of {tid}", ["fill_id", "ts", "symbol", "side", "qty", "price", "fee", "realised", "order_id"],
           [[f.fill_id, f.ts, f.symbol, f.side, f.quantity, f.price, f.fee, f.realised_pnl, f.order_id]
            for f in page.items],
           caption=f"next page: --after '{nxt}'" if nxt else None)


@ledger_app.command()
def check(db: DbOpt = None, trader: TraderOpt = None, as_json: JsonOpt = False) -> None:
    """Verify cash, positions, T+1, duplicate fills and order rows against the event stream.
    Prints each violation; exit code 1 if any."""
    with existing_ledger(db) as store:
        tid = _trader(store, trader)
        from nofx.persistence import check_ledger

        violations = check_ledger(store, tid)
    if as_json:
        _echo_json({"trader_id": tid, "ok": not violations, "violations": [v.to_dict() for v in violations]})
    else:
        for v in violations:
            typer.echo(str(v))
        typer.echo(f"ledger of {tid}: " + (f"{len(violations)} violation(s)" if violations else "OK"))
    if violations:
        raise typer.Exit(1)
