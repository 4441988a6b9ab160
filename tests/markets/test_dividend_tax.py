"""The dividend-tax table: holding-period bands (Caishui [2015] No. 101), Southbound withholding by kind
of security, investor types, effective dates and user tables; and the FIFO lots behind the at-sale tax."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from nofx.domain.errors import ConfigError
from nofx.domain.instruments import parse_symbol
from nofx.domain.tax_lots import TaxLots
from nofx.markets.dividend_tax import DividendTax
from nofx.markets.tables import RuleNotFoundError

D = Decimal
MOUTAI = parse_symbol("600519.SH")


@pytest.mark.parametrize("bought, sold, rate", [
    (date(2019, 1, 10), date(2019, 2, 10), D("0.20")),  # held Jan 10 .. Feb 9: one month, inclusive
    (date(2019, 1, 10), date(2019, 2, 11), D("0.10")),  # one day more
    (date(2019, 1, 31), date(2019, 2, 28), D("0.20")),  # month ends clamp
    (date(2018, 6, 20), date(2019, 6, 20), D("0.10")),  # exactly one year: still up to a year
    (date(2018, 6, 20), date(2019, 6, 21), D("0")),     # over a year: exempt
])
def test_holding_period_bands(bought, sold, rate):
    tax = DividendTax("individual")
    assert tax.rate_at_sale(MOUTAI, date(2019, 1, 20), bought, sold) == rate


def test_rates_follow_the_dividend_date():
    tax = DividendTax("individual")
    # a dividend received in 2015-06 falls under Caishui [2012] No. 85: 5% beyond a year
    assert tax.rate_at_sale(MOUTAI, date(2015, 6, 1), date(2014, 1, 2), date(2016, 1, 4)) == D("0.05")
    assert tax.rate_at_sale(MOUTAI, date(2015, 9, 8), date(2014, 1, 2), date(2016, 1, 4)) == D("0")
    with pytest.raises(RuleNotFoundError, match="dividend_tax.csv"):
        tax.rate_at_sale(MOUTAI, date(2010, 6, 1), date(2009, 1, 2), date(2010, 7, 1))


def test_southbound_withholding_by_kind_and_investor(tmp_path):
    ccb, tencent = parse_symbol("0939.HK"), parse_symbol("0700.HK")
    ind = DividendTax("individual")
    assert (ind.kind(ccb, date(2023, 1, 1)), ind.kind(tencent, date(2023, 1, 1))) == ("h_share", "other")
    assert ind.withheld(ccb, date(2023, 7, 1), D("1000")) == D("200.00")
    assert ind.withheld(tencent, date(2023, 5, 19), D("6960")) == D("1392.00")
    assert ind.rate_at_sale(tencent, date(2023, 5, 19), date(2023, 5, 1), date(2023, 5, 20)) == 0  # not twice
    assert DividendTax("institution").withheld(ccb, date(2023, 7, 1), D("1000")) == 0
    assert not DividendTax("institution").taxes_at_sale and DividendTax("individual").taxes_at_sale
    # a user table goes first: e.g. a treaty rate the user has confirmed for H shares
    user = tmp_path / "tax.csv"
    user.write_text("market,kind,investor,held_over_months,valid_from,valid_to,rate,collected,note\n"
                    "hk,h_share,individual,0,2014-11-17,,0.10,at_source,test rate\n")
    mine = DividendTax("individual", tables=[user])
    assert mine.withheld(ccb, date(2023, 7, 1), D("1000")) == D("100.00")
    assert mine.withheld(tencent, date(2023, 7, 1), D("1000")) == D("200.00")


def test_bad_investor_and_bad_table_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="investor must be one of individual, institution"):
        DividendTax("retail")
    bad = tmp_path / "tax.csv"
    bad.write_text("market,kind,investor,held_over_months,valid_from,valid_to,rate,collected\n"
                   "cn,stock,individual,0,2015-09-08,,0.2,at_payment\n")
    with pytest.raises(ConfigError, match="at_payment.*line=2, column=collected"):
        DividendTax(tables=[bad])


def test_lots_are_fifo_and_attribute_each_dividend_once():
    lots = TaxLots()
    lots.buy("X", date(2020, 1, 2), 300)
    lots.dividend("X", date(2020, 6, 1), D("0.33"))
    lots.buy("X", date(2020, 7, 1), 200)
    lots.dividend("X", date(2020, 8, 1), D("0.10"))
    first = lots.preview_sale("X", 100)
    assert lots.preview_sale("X", 100) == first  # a preview changes nothing
    lots.sell("X", 100)
    assert [(p.acquired, p.quantity, p.dividends) for p in first] == [
        (date(2020, 1, 2), 100, ((date(2020, 6, 1), D("33.0000")), (date(2020, 8, 1), D("10.0000"))))]
    rest = lots.preview_sale("X", 400)
    lots.sell("X", 400)
    assert [(p.acquired, p.quantity) for p in rest] == [(date(2020, 1, 2), 200), (date(2020, 7, 1), 200)]
    total = sum(c for p in first + rest for _, c in p.dividends)
    assert total == D("0.33") * 300 + D("0.10") * 500 and lots.quantity("X") == 0


def test_bonus_shares_keep_the_acquisition_date_and_the_total():
    lots = TaxLots()
    lots.buy("X", date(2020, 1, 2), 150)
    lots.buy("X", date(2020, 3, 2), 101)
    lots.split("X", D("1.3"), int(251 * D("1.3")))
    assert [(lot.acquired, lot.quantity) for lot in lots.lots("X")] == [(date(2020, 1, 2), 195),
                                                                        (date(2020, 3, 2), 131)]
    assert lots.quantity("X") == 326


def test_a_partly_sold_lot_keeps_exactly_the_rest_of_each_dividend():
    lots = TaxLots()
    lots.buy("X", date(2020, 1, 2), 300)
    lots.dividend("X", date(2020, 6, 1), D("0.3333"))  # 99.99 in all: thirds do not divide evenly
    taken = []
    for n in (100, 100, 100):
        taken += [c for p in lots.preview_sale("X", n) for _, c in p.dividends]
        lots.sell("X", n)
    assert taken == [D("33.3300")] * 3 and sum(taken) == D("99.99") and lots.quantity("X") == 0
    lots.buy("X", date(2020, 1, 2), 3)
    lots.dividend("X", date(2020, 6, 1), D("0.01"))  # 0.03 over 3 shares, taken 1 share at a time
    parts = []
    for _ in range(3):
        parts += [c for p in lots.preview_sale("X", 1) for _, c in p.dividends]
        lots.sell("X", 1)
    assert sum(parts) == D("0.03")


def test_fund_distributions_are_not_taxed():
    etf = parse_symbol("510300.SH")
    tax = DividendTax("individual")
    assert tax.kind(etf, date(2020, 1, 1)) == "fund"
    assert tax.rate_at_sale(etf, date(2020, 1, 10), date(2020, 1, 2), date(2020, 1, 20)) == 0
    assert tax.rate_at_sale(MOUTAI, date(2020, 1, 10), date(2020, 1, 2), date(2020, 1, 20)) == D("0.20")
