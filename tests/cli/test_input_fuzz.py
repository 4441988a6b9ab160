"""Fuzz the inputs a user controls, run configs (TOML and YAML) and command-line options, through the real
``nofx`` entry point on the bundled data. For any input: exit code 0 or 2, never a traceback, one line for
an error, and never a silent change: what ran is what was asked for (cash, dates, strategy, parameters,
trader id), never a renamed, clamped, rounded or defaulted value.

Bounded (a few dozen examples each, one symbol, a quarter of 2020) to stay in the default suite.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nofx.domain.money import MAX_CASH

FUZZ = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --- values: a valid input with zero, one or two faults of the kinds users make ---------------------

valid_cash = st.one_of(st.decimals(min_value=Decimal("0.01"), max_value=MAX_CASH, places=2),
                       st.integers(min_value=1, max_value=10**13))
wrong_cash = st.one_of(st.decimals(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(min_value=-10, max_value=10**30),
                       st.sampled_from(["1e26", "1e3000", "0.001", "", "abc", "1_000_000", " 5000 "]))
valid_start = st.dates(min_value=date(2020, 1, 1), max_value=date(2020, 1, 31))
valid_end = st.dates(min_value=date(2020, 2, 15), max_value=date(2020, 3, 31))
wrong_date = st.one_of(st.dates(), st.sampled_from(["", "2020-13-01", "9999-12-31", "yesterday", "2020-02-30"]))
wrong_number = st.one_of(st.integers(min_value=-3, max_value=0), st.floats(allow_nan=True, allow_infinity=True),
                         st.text(max_size=4))
valid_params = st.fixed_dictionaries({}, optional={
    "fast": st.integers(min_value=2, max_value=8), "slow": st.integers(min_value=10, max_value=25),
    "size": st.sampled_from([100, 200, 300])})

FAULTS = {  # where a fault goes -> what it is
    ("backtest", "cash"): wrong_cash,
    ("backtest", "start"): wrong_date,
    ("backtest", "end"): wrong_date,
    ("backtest", "rules"): st.sampled_from(["xx", "", "CN"]),
    ("backtest", "fill"): st.sampled_from(["later", ""]),
    ("backtest", "participation"): st.floats(allow_nan=True, allow_infinity=True),
    ("backtest", "commission_rate"): st.one_of(st.decimals(allow_nan=True), st.floats()),
    ("strategy", "name"): st.sampled_from(["no_such", "[strategy]", ""]),
    ("strategy", "params", "fast"): wrong_number,
    ("strategy", "params", "slow"): wrong_number,
    ("strategy", "params", "bogus"): st.integers(),
    ("risk", "max_order_value"): wrong_cash,
    ("risk", "rate_window_seconds"): st.floats(allow_nan=True, allow_infinity=True),
    ("risk", "max_open_orders"): wrong_number,
    ("data", "symbols"): st.sampled_from(["XYZ", "", "600519.SH,", "9999.HK"]),
    ("typo", "x"): st.integers(),
}


@st.composite
def run_configs(draw: st.DrawFn) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "data": {"symbols": draw(st.sampled_from(["600519.SH", "000001.SZ", "600519.SH,000001.SZ"]))},
        "backtest": {"start": draw(valid_start), "end": draw(valid_end)},
        "strategy": {"name": "dual_ma", "params": draw(valid_params)},
    }
    for key, value in draw(st.fixed_dictionaries({}, optional={
            "cash": valid_cash, "rules": st.sampled_from(["cn", "none"]),
            "fill": st.sampled_from(["next_open", "close"]), "participation": st.floats(0.01, 1),
            "commission_rate": st.decimals(min_value=0, max_value=Decimal("0.003"), places=5)})).items():
        cfg["backtest"][key] = value
    if draw(st.booleans()):
        cfg["risk"] = {"max_order_value": draw(valid_cash), "max_open_orders": draw(st.integers(1, 10))}
    for path in draw(st.lists(st.sampled_from(sorted(FAULTS)), max_size=2, unique=True)):
        *parents, leaf = path
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = draw(FAULTS[path])
    return cfg


def _num(v: Any) -> Decimal | None:
    try:
        if isinstance(v, float):
            # an integer-valued float stands exactly for int(v), which is what pydantic makes of it; its
            # repr is only the shortest round-trip text (1e+23 is 99999999999999991611392)
            d = Decimal(v) if v.is_integer() else Decimal(repr(v))
        else:
            d = Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


# --- writing configs --------------------------------------------------------------------------------

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, Decimal):
        return format(v, "f") if v.is_finite() else ("nan" if v.is_nan() else ("inf" if v > 0 else "-inf"))
    if isinstance(v, (int, date)):
        return str(v) if not isinstance(v, date) else v.isoformat()
    return json.dumps(v)  # a TOML basic string


def to_toml(cfg: dict[str, Any]) -> str:
    out: list[str] = []
    for section, body in cfg.items():
        out.append(f"[{section}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in body.items() if not isinstance(v, dict)]
        for k, sub in ((k, v) for k, v in body.items() if isinstance(v, dict)):
            out.append(f"[{section}.{k}]")
            out += [f"{kk} = {_toml_value(vv)}" for kk, vv in sub.items()]
    return "\n".join(out) + "\n"


def to_yaml(cfg: dict[str, Any]) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Decimal):  # float() refuses a signalling NaN, which st.decimals(allow_nan=True) draws
            return float("nan") if v.is_nan() else float(v)
        return v

    return yaml.safe_dump(plain(cfg), allow_unicode=True)


def _assert_contract(r) -> None:  # type: ignore[no-untyped-def]
    assert r.code in (0, 2), f"exit {r.code}: {r.err}"
    event(f"exit {r.code}")  # --hypothesis-show-statistics: how many examples ran, how many were refused
    assert "Traceback" not in r.err + r.out
    if r.code == 2:
        r.error_line()


def _assert_ran_as_asked(out: Path, cash: Any, start: Any, end: Any, strategy: str, given: dict) -> None:
    d = json.loads(out.read_text())
    first = d["equity"][0]
    expected_cash = Decimal("1000000") if cash is None else _num(cash)
    assert expected_cash is not None, f"cash {cash!r} was accepted although it is not a number"
    initial = Decimal(str(d["equity"][-1]["cash"]))  # the initial cash, from the last cash and the fills
    for t in d["trades"]:
        amount, fee = Decimal(str(t["price"])) * t["quantity"], Decimal(str(t["fee"]))
        initial += amount + fee if t["side"] == "buy" else -(amount - fee)
    initial -= sum((Decimal(str(a["cash"])) for a in d["corporate_actions"]), Decimal(0))
    assert initial == expected_cash, "cash was changed"
    if isinstance(start, date):
        assert first["datetime"][:10] >= start.isoformat()
    if isinstance(end, date):
        assert d["equity"][-1]["datetime"][:10] <= end.isoformat()
    assert d["strategy"] == strategy
    for k, v in given.items():  # every parameter given is the one used (5.0 may stand for 5, nothing else)
        assert _num(d["params"][k]) == _num(v), f"parameter {k}: gave {v!r}, ran {d['params'][k]!r}"


@FUZZ
@given(cfg=run_configs(), as_yaml=st.booleans())
def test_fuzz_run_configs(nofx_cli, tmp_path, cfg, as_yaml):
    path = tmp_path / ("run.yaml" if as_yaml else "run.toml")
    path.write_text(to_yaml(cfg) if as_yaml else to_toml(cfg), encoding="utf-8")
    out = tmp_path / "o.json"
    out.unlink(missing_ok=True)
    r = nofx_cli("backtest", "--config", str(path), "--json", str(out), "--no-progress")
    _assert_contract(r)
    if r.code == 0:
        bt = cfg["backtest"]
        _assert_ran_as_asked(out, bt.get("cash"), bt["start"], bt["end"], cfg["strategy"]["name"],
                             cfg["strategy"].get("params", {}))


def _text(v: Any) -> str:
    return v.isoformat() if isinstance(v, date) else str(v)


@st.composite
def backtest_options(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, Any]]:
    """(options as typed, the values they stand for); zero to two options replaced by a wrong text."""
    values: dict[str, Any] = {"--strategy": draw(st.sampled_from(["dual_ma", "buy_and_hold"])),
                              "--start": draw(valid_start), "--end": draw(valid_end)}
    if draw(st.booleans()):
        values["--cash"] = draw(valid_cash)
    if values["--strategy"] == "dual_ma" and draw(st.booleans()):
        values["--params"] = draw(valid_params.filter(bool))
    if draw(st.booleans()):
        values["--fill"] = draw(st.sampled_from(["close", "next_open"]))
    typed = {k: (",".join(f"{a}={b}" for a, b in v.items()) if k == "--params" else _text(v))
             for k, v in values.items()}
    wrong = {"--cash": wrong_cash.map(_text), "--start": wrong_date.map(_text), "--end": wrong_date.map(_text),
             "--strategy": st.sampled_from(["no_such", "[strategy]", ""]),
             "--params": st.sampled_from(["fast", "fast=", "fast=nan", "=5", "fast=1e400", "size=-100", ""]),
             "--fill": st.sampled_from(["nope", ""]), "--symbols": st.sampled_from(["", "XYZ", ",", "600519"])}
    for opt in draw(st.lists(st.sampled_from(sorted(wrong)), max_size=2, unique=True)):
        typed[opt] = draw(wrong[opt])
        values.pop(opt, None)
    return typed, values


@FUZZ
@given(opts=backtest_options())
def test_fuzz_backtest_options(nofx_cli, tmp_path, opts):
    typed, values = opts
    out = tmp_path / "o.json"
    out.unlink(missing_ok=True)
    args = ["backtest", "--symbols", "600519.SH", "--json", str(out), "--no-progress"]
    for opt, text in typed.items():
        args += [opt, text]
    r = nofx_cli(*args)
    _assert_contract(r)
    if r.code == 0:
        _assert_ran_as_asked(out, typed.get("--cash"), values.get("--start"), values.get("--end"),
                             typed["--strategy"], values.get("--params", {}))


@st.composite
def paper_options(draw: st.DrawFn) -> dict[str, str]:
    """Valid paper options (a fresh SQLite ledger) with zero to two replaced by a wrong text."""
    typed: dict[str, str] = {"--db": "FRESH"}
    if draw(st.booleans()):
        typed["--cash"] = _text(draw(valid_cash))
    if draw(st.booleans()):
        typed["--trader"] = draw(st.from_regex(r"[A-Za-z0-9][\w.:@-]{0,40}", fullmatch=True))
    if draw(st.booleans()):
        typed["--latency-ms"] = _text(draw(st.floats(0, 60_000)))
    typed["--speed"] = draw(st.sampled_from(["0", "1e6"]))  # positive finite speeds really sleep
    wrong = {"--cash": wrong_cash.map(_text),
             "--speed": st.one_of(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not v >= 0)
                                  .map(repr), st.sampled_from(["inf", "1e400"])),
             "--latency-ms": st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0 <= v <= 60_000)
             .map(repr),
             "--trader": st.one_of(st.text(max_size=80), st.sampled_from(["", " a", "a" * 65])),
             "--db": st.sampled_from(["notaurl", "postgresql+psycopg://u@127.0.0.1:1/x", "", "missing/l.db"])}
    for opt in draw(st.lists(st.sampled_from(sorted(wrong)), max_size=2, unique=True)):
        typed[opt] = draw(wrong[opt])
    return typed


@FUZZ
@given(typed=paper_options())
def test_fuzz_paper_options(nofx_cli, tmp_path_factory, monkeypatch, typed):
    from nofx.persistence import SqlLedgerStore

    folder = tmp_path_factory.mktemp("paper")
    monkeypatch.chdir(folder)  # a bare name given as --db would land here
    url = typed["--db"] = f"sqlite:///{folder / 'l.db'}" if typed["--db"] == "FRESH" else typed["--db"]
    args = ["paper", "-s", "dual_ma", "--symbols", "600519.SH", "--start", "2020-01-02", "--end", "2020-01-10",
            "--no-progress"]
    for opt, text in typed.items():
        args += [opt, text]
    r = nofx_cli(*args)
    _assert_contract(r)
    if not url.startswith("sqlite:///"):
        assert r.code == 2
    if r.code == 2:
        assert not (folder / "l.db").exists()  # options are checked before the ledger is opened
    else:  # the ledger holds exactly the trader and cash that were asked for
        store = SqlLedgerStore(url)
        try:
            (rec,) = store.list_traders()
        finally:
            store.close()
        assert rec.trader_id == typed.get("--trader", "paper-dual_ma")
        assert 0 <= float(typed.get("--latency-ms", 0)) <= 60_000 and 0 <= float(typed["--speed"]) < math.inf
        assert rec.initial_cash == _num(typed.get("--cash", "1000000"))
    assert sorted(p.name for p in folder.iterdir()) in ([], ["l.db"], ["l.db", "l.db-shm", "l.db-wal"])


def test_fuzz_helpers_write_what_they_were_given():
    """The TOML/YAML writers above must not be the thing that changes a value."""
    import tomllib

    cfg = {"backtest": {"cash": Decimal("12.5"), "start": date(2020, 1, 2), "participation": float("nan")},
           "strategy": {"name": "a\"b", "params": {"fast": 3}}}
    back = tomllib.loads(to_toml(cfg))
    assert back["backtest"]["cash"] == 12.5 and back["backtest"]["start"] == date(2020, 1, 2)
    assert math.isnan(back["backtest"]["participation"])
    assert back["strategy"] == {"name": "a\"b", "params": {"fast": 3}}
    assert yaml.safe_load(to_yaml(cfg))["strategy"]["params"] == {"fast": 3}


@pytest.fixture(scope="module")
def paper_ledger(tmp_path_factory) -> Path:
    """A real ledger written by a short paper run (module scope: the fuzz below only reads it)."""
    from nofx.cli.main import main

    db = tmp_path_factory.mktemp("ledger") / "l.db"
    with pytest.raises(SystemExit) as exc:
        main(["paper", "-s", "dual_ma", "--symbols", "600519.SH", "--start", "2020-01-02", "--end", "2020-03-31",
              "--no-progress", "--db", str(db), "--trader", "fuzz"])
    assert exc.value.code == 0
    return db


@FUZZ
@given(command=st.sampled_from([("orders",), ("positions",), ("trades",), ("ledger", "check")]),
       db=st.sampled_from(["LEDGER", "LEDGER", "notaurl", "missing.db", ""]),
       trader=st.one_of(st.none(), st.just("fuzz"), st.text(max_size=70)),
       after=st.one_of(st.none(), st.text(max_size=30), st.just("2020-01-02T00:00:00|1")),
       limit=st.one_of(st.none(), st.integers(-5, 20_000).map(str), st.text(max_size=4)),
       as_json=st.booleans())
def test_fuzz_ledger_reading_options(nofx_cli, paper_ledger, command, db, trader, after, limit, as_json):
    args = [*command, "--db", str(paper_ledger) if db == "LEDGER" else db]
    if trader is not None:
        args += ["--trader", trader]
    if after is not None and command[0] in ("orders", "trades"):
        args += ["--after", after]
    if limit is not None and command[0] in ("orders", "trades"):
        args += ["--limit", limit]
    if as_json:
        args.append("--json")
    r = nofx_cli(*args)
    _assert_contract(r)
    if r.code == 0 and as_json:  # the trader shown is the one asked for (or the only one), never another
        assert json.loads(r.out)["trader_id"] == "fuzz"


@FUZZ
@given(start=st.one_of(st.none(), wrong_date.map(_text), valid_start.map(_text), st.text(max_size=12)),
       end=st.one_of(st.none(), wrong_date.map(_text), valid_end.map(_text), st.text(max_size=12)),
       symbol=st.one_of(st.none(), st.sampled_from(["600519.SH", "XYZ", "", "0700.HK"])))
def test_fuzz_data_info_options(nofx_cli, start, end, symbol):
    from nofx.data.bundled import bundled_bars_path

    args = ["data", "info", str(bundled_bars_path())]
    for opt, value in (("--start", start), ("--end", end), ("--symbol", symbol)):
        if value is not None:
            args += [opt, value]
    _assert_contract(nofx_cli(*args))
