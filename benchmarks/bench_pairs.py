"""Benchmark: Engle-Granger screen of every pair of 300 A-shares over 252 days (44,850 pairs),
vectorised (nofx.models.cointegration.screen_pairs) against a loop of statsmodels' ``coint``,
in the same run, on the same real prices.

    .venv/bin/python benchmarks/bench_pairs.py                 # statsmodels on a 2,000-pair sample
    .venv/bin/python benchmarks/bench_pairs.py --full          # statsmodels on all 44,850 pairs
    .venv/bin/python benchmarks/bench_pairs.py --autolag none --maxlag 1

Without ``--full`` the statsmodels time for 44,850 pairs is *extrapolated* from a random sample
(its cost per pair does not depend on the pair); the output says so. Results are compared on every
pair statsmodels was run on: statistic and p-value must agree to 1e-6, and so must the set of pairs
kept at p < 0.05.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress
from statsmodels.tsa.stattools import coint

from nofx.features.adjusted import adjustment_factor
from nofx.models.cointegration import all_pairs, engle_granger, screen_pairs

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NOFX_SHARED_DATA", REPO.parent / "shared" / "data")) / "cn_daily.parquet"


def load_prices(n_stocks: int, days: int, end: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Total-return prices of the ``n_stocks`` most traded stocks with a bar on each of the last
    ``days`` trading days up to ``end``."""
    df = pd.read_parquet(DATA, columns=["symbol", "date", "close", "preclose", "amount"])
    df = df[df["date"] <= pd.Timestamp(end)]
    dates = np.sort(df["date"].unique())[-days:]
    df = df[df["date"].isin(dates)]
    close = df.pivot(index="date", columns="symbol", values="close")
    pre = df.pivot(index="date", columns="symbol", values="preclose").reindex_like(close)
    amount = df.pivot(index="date", columns="symbol", values="amount").reindex_like(close)
    is_index = close.columns.str.match(r"^(000(001|016|300|905)\.SH|399\d{3}\.SZ)$")
    keep = close.notna().all().to_numpy() & ~is_index
    close, pre, amount = close.loc[:, keep], pre.loc[:, keep], amount.loc[:, keep]
    top = amount.mean().sort_values(ascending=False, kind="stable").index[:n_stocks]
    top = sorted(top)
    c, p = close[top].to_numpy(), pre[top].to_numpy()
    return c * adjustment_factor(c, p), tuple(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stocks", type=int, default=300)
    ap.add_argument("--days", type=int, default=252)
    ap.add_argument("--end", default="2021-12-31")
    ap.add_argument("--sample", type=int, default=2000, help="statsmodels pairs when not --full")
    ap.add_argument("--full", action="store_true", help="run statsmodels on every pair")
    ap.add_argument("--autolag", default="aic", choices=["aic", "bic", "none"])
    ap.add_argument("--maxlag", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    autolag = None if args.autolag == "none" else args.autolag
    if autolag is None and args.maxlag is None:
        ap.error("--autolag none needs --maxlag")

    prices, symbols = load_prices(args.stocks, args.days, args.end)
    n = len(symbols)
    i, j = all_pairs(n)
    print(f"data: {n} stocks x {prices.shape[0]} days ending {args.end} -> {len(i):,} pairs; "
          f"autolag={autolag}, maxlag={args.maxlag if args.maxlag is not None else 'default'}")

    # --- vectorised: the whole screen, best of --repeat -----------------------------------------
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        screen = screen_pairs(prices, symbols, maxlag=args.maxlag, autolag=autolag, pvalue_max=0.05)
        times.append(time.perf_counter() - t0)
    t_vec = min(times)
    full = engle_granger(prices[:, i].T, prices[:, j].T, maxlag=args.maxlag, autolag=autolag)
    print(f"nofx screen_pairs      : {t_vec:8.3f} s for {len(i):,} pairs (best of {args.repeat}; "
          f"{t_vec / len(i) * 1e6:.1f} us/pair); kept {len(screen):,} pairs with p < 0.05")

    # --- statsmodels loop ----------------------------------------------------------------------
    rng = np.random.default_rng(12345)
    idx = np.arange(len(i)) if args.full else np.sort(rng.choice(len(i), size=min(args.sample, len(i)), replace=False))
    stat = np.empty(len(idx))
    pval = np.empty(len(idx))
    with warnings.catch_warnings(), Progress(transient=True) as progress:
        warnings.simplefilter("ignore")
        task = progress.add_task("statsmodels coint", total=len(idx))
        t0 = time.perf_counter()
        for k, q in enumerate(idx):
            r = coint(prices[:, i[q]], prices[:, j[q]], trend="c", maxlag=args.maxlag, autolag=autolag)
            stat[k], pval[k] = r[0], r[1]
            if (k & 63) == 0:
                progress.update(task, completed=k + 1)
        t_loop = time.perf_counter() - t0
    per_pair = t_loop / len(idx)
    t_sm = per_pair * len(i)
    label = "measured" if args.full else f"EXTRAPOLATED from {len(idx):,} random pairs ({t_loop:.1f} s measured)"
    print(f"statsmodels coint loop : {t_sm:8.1f} s for {len(i):,} pairs ({per_pair * 1e3:.2f} ms/pair; {label})")

    # --- identical results on every pair statsmodels ran on ---------------------------------------
    d_stat = np.abs(full.stat[idx] - stat)
    d_p = np.abs(full.pvalue[idx] - pval)
    finite = np.isfinite(stat)
    same_kept = np.array_equal(full.pvalue[idx] < 0.05, pval < 0.05)
    print(f"agreement on {len(idx):,} pairs: max |d stat| = {d_stat[finite].max():.2e}, "
          f"max |d p-value| = {d_p.max():.2e}, same pairs kept at p<0.05: {same_kept}")
    ok = d_stat[finite].max() <= 1e-6 and d_p.max() <= 1e-6 and same_kept and np.array_equal(np.isinf(stat), np.isinf(full.stat[idx]))
    ratio = t_sm / t_vec
    print(f"speed-up: {ratio:,.0f}x ({'goal >= 100x met' if ratio >= 100 else 'BELOW the 100x goal'}); "
          f"results {'IDENTICAL to 1e-6' if ok else 'DIFFERENT'}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
