"""Column types that keep ``Decimal`` exact on both databases.

PostgreSQL stores ``NUMERIC(p, s)`` natively. SQLite has no decimal type: SQLAlchemy's ``Numeric``
would go through a binary float there, so on SQLite the same column is stored as TEXT holding the
canonical decimal string (money is never summed in SQLite SQL; aggregates are done in Python).
Both paths quantize to the column scale in Python first, so the two databases return identical values.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from nofx.domain.money import AVERAGE_PLACES
from nofx.persistence.errors import MoneyPrecisionError


class _ExactDecimal(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    precision: int = 20
    scale: int = 4
    strict: bool = True  # refuse values with more decimals instead of rounding them

    def __init__(self, strict: bool | None = None) -> None:
        super().__init__()
        if strict is not None:
            self.strict = strict
        self._quantum = Decimal(1).scaleb(-self.scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        d = value if isinstance(value, Decimal) else Decimal(str(value))
        try:
            q = d.quantize(self._quantum, rounding=ROUND_HALF_EVEN)
        except InvalidOperation as exc:
            raise MoneyPrecisionError("value too large for its column", value=str(d)) from exc
        if self.strict and q != d:
            raise MoneyPrecisionError(
                f"money value has more than {self.scale} decimal places", value=str(d))
        if dialect.name == "sqlite":
            return str(q)
        return q

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value) if not isinstance(value, Decimal) else value


class Money(_ExactDecimal):
    """NUMERIC(20,4): prices, fees, cash, equity. Strict by default (more than 4 decimals is a bug upstream)."""

    precision, scale = 20, 4
    cache_ok = True


class Precise(_ExactDecimal):
    """NUMERIC(34,12) for derived averages (avg cost, avg fill price) and the PnL booked from them: the
    domain keeps averages at exactly this scale (``nofx.domain.money.average``), so they are stored and
    reloaded unchanged; anything finer is rounded half-even."""

    precision, scale = 34, AVERAGE_PLACES
    strict = False
    cache_ok = True
