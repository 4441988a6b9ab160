"""`nofx model train / predict / eval` end to end on a small synthetic bars file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from nofx.cli.model import app, results_table

runner = CliRunner()


def test_train_predict_eval(tmp_path, synth_frame):
    data = tmp_path / "bars.parquet"
    synth_frame.to_parquet(data)
    run = tmp_path / "run"
    r = runner.invoke(app, ["train", "--model", "linear", "--data", str(data), "--train", "2019-01-01:2019-06-30",
                            "--valid", "2019-07-01:2019-09-30", "--out", str(run), "--universe", "20",
                            "--seq-len", "10"])
    assert r.exit_code == 0, r.output
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["kind"] == "linear" and len(cfg["universe"]) == 20 and cfg["features"]["seq_len"] == 10

    out = tmp_path / "preds.parquet"
    r = runner.invoke(app, ["predict", str(run), "--data", str(data), "--start", "2019-10-01", "--end", "2019-12-20",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    p = pd.read_parquet(out)
    assert list(p.columns) == ["datetime", "symbol", "score"]
    assert p["symbol"].nunique() == 24  # every stock of the file, not only the 20 trained on
    assert p["datetime"].min() >= pd.Timestamp("2019-10-01") and p["datetime"].max() <= pd.Timestamp("2019-12-20")
    assert not p.duplicated(["datetime", "symbol"]).any()

    r = runner.invoke(app, ["eval", str(run), "--test", "2019-10-01:2019-12-20", "--no-backtest"])
    assert r.exit_code == 0, r.output
    ev = json.loads((run / "eval.json").read_text())
    assert {"ic", "icir", "rank_ic", "rank_icir"} <= set(ev) and -1 < ev["rank_ic"] < 1
    assert (run / "eval_report.html").read_text().count("Cumulative") >= 2


def test_bad_input_is_one_line_error(tmp_path):
    r = runner.invoke(app, ["eval", str(tmp_path), "--test", "2021-01-01:2021-12-31"])
    assert r.exit_code == 2 and "config.json" in r.output


def test_results_table_mean_and_spread():
    rows = [{"model": "gat", "ic": 0.02, "icir": 0.2, "rank_ic": 0.03, "rank_icir": 0.3, "excess_return": 0.1,
             "max_drawdown": -0.1},
            {"model": "gat", "ic": 0.04, "icir": 0.4, "rank_ic": 0.05, "rank_icir": 0.5, "excess_return": 0.3,
             "max_drawdown": -0.2}]
    t = results_table(rows, ["gat", "lstm"])
    line = t.splitlines()[2]
    assert line.startswith("| gat | 2 | 0.0300 ± 0.0141 |") and "20.0% ± 14.1%" in line
    assert line.endswith("| n/a | n/a |")  # columns the rows lack
    assert "lstm" not in t and np.isclose(0.0141, np.std([0.02, 0.04], ddof=1), atol=1e-4)


def run_to_files(tmp_path, *args: str) -> tuple[int, str, str]:
    """``nofx ARGS`` with stdout and stderr written to files, progress lines at every step."""
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {**os.environ, "NOFX_PROGRESS_SECONDS": "0"}
    with out.open("w") as o, err.open("w") as e:
        rc = subprocess.run([sys.executable, "-m", "nofx.cli.main", *args], stdout=o, stderr=e, env=env,
                            timeout=600).returncode
    return rc, out.read_text(), err.read_text()


STATUS = re.compile(r"\d[\d,]*/[\d,]+ \(\d+%\), elapsed \d+:\d\d:\d\d, ETA \d+:\d\d:\d\d")


def test_model_train_off_a_terminal_prints_progress_lines(tmp_path, synth_frame):
    data = tmp_path / "bars.parquet"
    synth_frame.to_parquet(data)
    rc, out, err = run_to_files(tmp_path, "model", "train", "--model", "lightgbm", "--features", "alpha158",
                                 "--data", str(data), "--train", "2019-01-01:2019-06-30", "--valid",
                                 "2019-07-01:2019-09-30", "--out", str(tmp_path / "run"), "--universe", "20")
    assert rc == 0, err
    assert err.splitlines()[0].startswith("train lightgbm: ")
    assert any(STATUS.search(ln) and "round " in ln for ln in err.splitlines()), err
    assert "train lightgbm: done" in err.splitlines()[-1]
    # a tree model reads each day's 158 features, not 60-day windows of them (9,480 columns)
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["features"] == {"set": "alpha158", "seq_len": 1}
