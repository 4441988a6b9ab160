"""Report labels in English (``en``) and Simplified Chinese (``zh``).

``label(key, lang)`` returns the text of one key; an unknown key is a bug, so it raises KeyError rather
than printing the key. Metric labels live here too (``metric.<key>``), so the console table, the HTML
report and the dashboard say the same thing in either language.
"""

from __future__ import annotations

from typing import Literal

from nofx.domain.errors import ConfigError

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

_LABELS: dict[str, tuple[str, str]] = {
    # page and sections
    "report.backtest": ("Backtest", "回测报告"),
    "section.summary": ("Summary", "概览"),
    "section.equity": ("Equity", "净值"),
    "section.drawdown": ("Drawdown", "回撤"),
    "section.returns_table": ("Monthly and yearly returns", "月度与年度收益"),
    "section.excess": ("Excess return over the benchmark", "相对基准的超额收益"),
    "section.rolling": ("Rolling Sharpe, volatility and beta", "滚动夏普比率、波动率与贝塔"),
    "section.exposure": ("Exposure and cash", "仓位与现金"),
    "section.symbol_pnl": ("PnL contribution by symbol", "个股盈亏贡献"),
    "section.round_trips": ("Round trips", "完整交易（开仓到平仓）"),
    "section.fees": ("Fees by component", "费用明细"),
    "section.trades": ("Trades", "成交记录"),
    "section.trades_of": ("Trades: {symbol}", "成交：{symbol}"),
    "section.other_symbols": ("Other symbols", "其他股票"),
    "section.rejections": ("Rejections", "被拒订单"),
    "section.messages": ("Messages", "提示信息"),
    # figure titles and axes
    "fig.equity": ("Equity", "账户净值"),
    "fig.equity_vs_benchmark": ("Equity vs benchmark (rescaled)", "净值与基准（按初始资金缩放）"),
    "fig.drawdown": ("Drawdown (underwater)", "回撤（水下曲线）"),
    "fig.excess": ("Cumulative excess return (geometric: (1 + strategy) / (1 + benchmark) - 1)",
                   "累计超额收益（几何：(1 + 策略) / (1 + 基准) - 1）"),
    "fig.rolling": ("Rolling {window} periods ({span})", "滚动 {window} 个周期（{span}）"),
    "fig.exposure": ("Exposure (holdings / equity) and cash", "仓位（持仓市值 / 净值）与现金"),
    "fig.heatmap": ("Monthly returns", "月度收益"),
    "fig.symbol_pnl": ("Total PnL by symbol", "个股总盈亏"),
    "axis.value": ("value", "金额"),
    "axis.below_peak": ("below peak", "距前高"),
    "axis.return": ("return", "收益率"),
    "axis.price": ("price", "价格"),
    "axis.cash": ("cash", "现金"),
    "axis.exposure": ("exposure", "仓位"),
    "series.strategy": ("Strategy", "策略"),
    "series.benchmark": ("Benchmark", "基准"),
    "series.excess": ("Excess", "超额"),
    "series.sharpe": ("Sharpe", "夏普比率"),
    "series.volatility": ("Volatility (annualised)", "波动率（年化）"),
    "series.beta": ("Beta", "贝塔"),
    "series.exposure": ("Exposure", "仓位"),
    "series.cash": ("Cash", "现金"),
    "series.close": ("close", "收盘价"),
    "hover.fee": ("fee", "费用"),
    "side.buy": ("buy", "买入"),
    "side.sell": ("sell", "卖出"),
    # columns
    "col.year": ("Year", "年份"),
    "col.full_year": ("Year", "全年"),
    "col.symbol": ("Symbol", "代码"),
    "col.fills": ("Fills", "成交笔数"),
    "col.bought": ("Bought", "买入金额"),
    "col.sold": ("Sold", "卖出金额"),
    "col.fees": ("Fees", "费用"),
    "col.dividend_tax": ("Dividend tax", "股息红利税"),
    "col.realised": ("Realised PnL", "已实现盈亏"),
    "col.unrealised": ("Unrealised PnL", "未实现盈亏"),
    "col.total_pnl": ("Total PnL", "总盈亏"),
    "col.share": ("Share of total", "占比"),
    "col.entry": ("Entry", "开仓时间"),
    "col.exit": ("Exit", "平仓时间"),
    "col.holding": ("Holding (days)", "持有天数"),
    "col.quantity": ("Quantity", "数量"),
    "col.entry_price": ("Avg entry", "开仓均价"),
    "col.exit_price": ("Avg exit", "平仓均价"),
    "col.net_pnl": ("Net PnL", "净盈亏"),
    "col.return": ("Return", "收益率"),
    "col.component": ("Component", "费用项目"),
    "col.amount": ("Amount", "金额"),
    "col.statistic": ("Statistic", "统计项"),
    "col.value": ("Value", "数值"),
    "col.field": ("Field", "项目"),
    "col.datetime": ("Time", "时间"),
    "col.side": ("Side", "方向"),
    "col.price": ("Price", "价格"),
    "col.fee": ("Fee", "费用"),
    "col.notional": ("Notional", "成交金额"),
    "col.order": ("Order", "订单"),
    "col.code": ("Code", "代码"),
    "col.count": ("Count", "次数"),
    "col.reason": ("Most frequent reason", "最常见原因"),
    # fee components
    "fee.commission": ("Commission", "佣金"),
    "fee.stamp_duty": ("Stamp duty", "印花税"),
    "fee.transfer_fee": ("Transfer fee", "过户费"),
    "fee.levies": ("Levies (SFC + AFRC)", "征费（证监会 + 会财局）"),
    "fee.trading_fee": ("Trading fee (HKEX)", "交易费（港交所）"),
    "fee.total": ("Total fees", "费用合计"),
    # round-trip statistics
    "rt.closed": ("Closed round trips", "已平仓交易数"),
    "rt.open": ("Still open", "未平仓"),
    "rt.wins": ("Winners", "盈利次数"),
    "rt.losses": ("Losers", "亏损次数"),
    "rt.win_rate": ("Win rate", "胜率"),
    "rt.avg_win": ("Average win", "平均盈利"),
    "rt.avg_loss": ("Average loss", "平均亏损"),
    "rt.largest_win": ("Largest win", "最大盈利"),
    "rt.largest_loss": ("Largest loss", "最大亏损"),
    "rt.profit_factor": ("Profit factor (wins / losses)", "盈亏比（盈利合计 / 亏损合计）"),
    "rt.expectancy": ("Expectancy (mean net PnL)", "期望值（平均净盈亏）"),
    "rt.avg_holding": ("Average holding (days)", "平均持有天数"),
    "rt.realised_total": ("Realised PnL, all round trips", "全部交易已实现盈亏"),
    "rt.open_exit": ("open", "持仓中"),
    # run fields
    "run.strategy": ("strategy", "策略"),
    "run.period": ("period", "区间"),
    "run.slices": ("{n} slices", "{n} 个时间切片"),
    "run.initial_cash": ("initial cash", "初始资金"),
    "run.parameters": ("parameters", "参数"),
    "run.annualisation": ("annualisation", "年化方式"),
    "run.none": ("none", "无"),
    # notes
    "note.no_metrics": ("No metrics were computed for this result.", "未计算指标。"),
    "note.no_trades": ("No trades.", "无成交。"),
    "note.no_rejections": ("No rejected orders.", "无被拒订单。"),
    "note.no_round_trips": ("No round trips.", "无完整交易。"),
    "note.fills": ("{n} fills.", "共 {n} 笔成交。"),
    "note.rejected": ("{n} rejected orders.", "共 {n} 笔订单被拒。"),
    "note.more": ("{n} more", "另有 {n} 条"),
    "note.less_traded": ("{n} less-traded symbols have no chart (see the trades table).",
                         "另有 {n} 只交易较少的股票未绘图（见成交记录）。"),
    "note.csv": ("The complete trade list ({n} fills, every fee component) as CSV:",
                 "完整成交记录（{n} 笔，含各项费用）CSV 下载："),
    "note.csv_beside": ("written beside this report", "与本报告同目录"),
    "note.table_shows": ("The table shows the first and last {k} rows.", "下表仅显示前后各 {k} 行。"),
    "note.no_benchmark": ("No benchmark in this run.", "本次回测无基准。"),
    "note.too_short": ("Too few periods for this section.", "周期太少，无法计算。"),
    "note.fees_exact": ("Components recomputed per fill from the fee tables; they add up to each fill's fee.",
                        "各项费用按费率表逐笔重算，合计与每笔成交的费用一致。"),
    "note.fees_other": ("{n} fills' components do not add up to their fee (a custom fee model); the rest is "
                        "shown as \"other\".", "{n} 笔成交的分项与费用不符（自定义费用模型），差额列为“其他”。"),
    "fee.other": ("Other", "其他"),
    "note.symbol_pnl": ("Total PnL = realised (average cost, dividends included) + unrealised at the last close - "
                        "fees - dividend tax; the column sums to final equity - initial cash.",
                        "总盈亏 = 已实现（平均成本法，含分红）+ 期末未实现 - 费用 - 股息红利税；合计等于期末净值 - 初始资金。"),
    "note.round_trips": ("A round trip runs from a flat position to flat again; realised PnL on average cost "
                         "(dividends included), net PnL after fees and dividend tax.",
                         "一次完整交易指仓位从零到再次归零；已实现盈亏按平均成本法（含分红），净盈亏扣除费用与股息红利税。"),
    "note.returns_table": ("Each period's return compounds from the previous period's last equity; the year "
                           "column compounds its months.", "各期收益以上一期末净值为基准复利计算；全年列为各月复合。"),
}

# metric labels (keys of nofx.backtest.metrics.compute_metrics)
_METRICS_ZH: dict[str, str] = {
    "total_return": "总收益率",
    "annual_return": "年化收益率（CAGR）",
    "annual_volatility": "年化波动率",
    "sharpe": "夏普比率",
    "sortino": "索提诺比率",
    "max_drawdown": "最大回撤",
    "max_drawdown_start": "最大回撤：峰值日",
    "max_drawdown_trough": "最大回撤：谷底日",
    "max_drawdown_end": "最大回撤：恢复日",
    "calmar": "卡玛比率",
    "win_rate": "胜率（平仓卖出）",
    "n_trades": "成交笔数",
    "turnover": "换手率（年化，倍净值）",
    "fees_paid": "费用合计",
    "final_equity": "期末净值",
    "periods_per_year": "每年周期数（年化）",
    "benchmark_return": "基准收益率",
    "excess_return": "年化超额收益",
    "alpha": "阿尔法（年化）",
    "beta": "贝塔",
    "information_ratio": "信息比率",
    "tracking_error": "跟踪误差",
}
NOT_RECOVERED_ZH = "未恢复"


def check_lang(lang: str) -> Lang:
    """``lang`` if supported; ConfigError naming the option otherwise."""
    if lang not in LANGS:
        raise ConfigError("--lang must be en or zh", lang=lang)
    return lang  # type: ignore[return-value]


def label(key: str, lang: Lang = "en", **fmt: object) -> str:
    text = _LABELS[key][0 if lang == "en" else 1]
    return text.format(**fmt) if fmt else text


def metric_label_zh(key: str) -> str | None:
    return _METRICS_ZH.get(key)
