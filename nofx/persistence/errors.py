"""Coded errors of the ledger store (stable ``code`` values the CLI and API can act on)."""

from __future__ import annotations

from nofx.domain.errors import NofxError


class LedgerError(NofxError):
    code = "LEDGER_ERROR"


class UnknownTraderError(LedgerError):
    code = "LEDGER_UNKNOWN_TRADER"


class DuplicateTraderError(LedgerError):
    code = "LEDGER_DUPLICATE_TRADER"


class DuplicateOrderError(LedgerError):
    """An OrderSubmitted whose order_id already exists for the trader."""

    code = "LEDGER_DUPLICATE_ORDER"


class DuplicateClientOrderIdError(LedgerError):
    """An OrderSubmitted whose client_order_id is already used by another order of the trader.

    The engine checks first with ``find_by_client_order_id``; the unique constraint is the backstop that
    makes a retried submission impossible to book twice."""

    code = "LEDGER_DUPLICATE_CLIENT_ORDER_ID"


class DuplicateFillError(LedgerError):
    code = "LEDGER_DUPLICATE_FILL"


class MoneyPrecisionError(LedgerError):
    """A money value with more decimals than the NUMERIC(20,4) columns hold: refused, never rounded silently."""

    code = "LEDGER_MONEY_PRECISION"


class LedgerIntegrityError(LedgerError):
    """An event that cannot be applied to the stored state (illegal order transition, overfill...)."""

    code = "LEDGER_INTEGRITY"


class DatabaseUrlError(LedgerError):
    code = "LEDGER_BAD_URL"


class InvalidTraderIdError(LedgerError):
    code = "LEDGER_BAD_TRADER_ID"


class DatabaseUnavailableError(LedgerError):
    """The database cannot be opened or used: missing folder, unreachable server, read-only or full disk,
    a file that is not (or no longer) a SQLite database."""

    code = "LEDGER_DB_UNAVAILABLE"
