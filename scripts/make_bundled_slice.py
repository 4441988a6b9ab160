"""Regenerate the bundled demo slice nofx/data/bundled/cn_daily_demo.parquet from the shared data.

Deterministic: a fixed symbol list and date range, rows sorted by (symbol, date), the source schema
unchanged, zstd level 19. Run from the repository root:

    .venv/bin/python scripts/make_bundled_slice.py [--source ../shared/data/cn_daily.parquet]

The symbols and why each one is there are listed in nofx/data/bundled/README.md; keep both in sync.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "cn_daily.parquet"
TARGET = REPO / "nofx" / "data" / "bundled" / "cn_daily_demo.parquet"
START, END = "2019-01-01", "2021-12-31"

SYMBOLS = (
    "000300.SH",  # CSI 300 index (benchmark)
    # consumer
    "600519.SH", "000858.SZ",
    # financials
    "000001.SZ", "600036.SH", "601398.SH", "601318.SH", "600030.SH", "300059.SZ",
    # real estate
    "000002.SZ",
    # health care
    "600276.SH", "300760.SZ",
    # technology / electronics
    "002415.SZ", "000725.SZ", "002475.SZ",
    # autos / new energy
    "300750.SZ", "002594.SZ", "600104.SH", "601012.SH", "300274.SZ",
    # ChiNext with many +-20% days after 2020-08-24
    "300343.SZ",
    # STAR market (688)
    "688981.SH", "688111.SH", "688599.SH",
    # industrials, energy, materials, utilities
    "600031.SH", "601857.SH", "601899.SH", "600309.SH", "600900.SH",
    # listed inside the window (IPO 2019-08-26)
    "003816.SZ",
    # ST and suspensions
    "000792.SZ", "600265.SH", "000333.SZ",
)


def make_slice(source: Path, target: Path = TARGET) -> pa.Table:
    table = pq.read_table(source)
    dates = table.column("date")
    mask = pc.and_(
        pc.is_in(table.column("symbol"), value_set=pa.array(SYMBOLS)),
        pc.and_(
            pc.greater_equal(dates, pa.scalar(datetime.fromisoformat(START), dates.type)),
            pc.less_equal(dates, pa.scalar(datetime.fromisoformat(END), dates.type)),
        ),
    )
    out = table.filter(mask).sort_by([("symbol", "ascending"), ("date", "ascending")])
    found = set(out.column("symbol").to_pylist())
    missing = [s for s in SYMBOLS if s not in found]
    if missing:
        raise SystemExit(f"symbols not in {source}: {', '.join(missing)}")
    out = out.replace_schema_metadata(None)  # no pandas metadata: byte-stable across pandas versions
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, target, compression="zstd", compression_level=19)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--target", type=Path, default=TARGET)
    args = parser.parse_args()
    out = make_slice(args.source, args.target)
    print(f"wrote {args.target}: {out.num_rows} rows, {len(set(out.column('symbol').to_pylist()))} symbols, "
          f"{args.target.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
