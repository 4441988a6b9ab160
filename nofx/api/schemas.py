"""Request and response models (pydantic v2). Money is a decimal string in responses and must be a
decimal string (or an integer) in requests: a JSON float would carry binary noise into the ledger.
Every request model forbids unknown fields, so a typo is a 422 naming the field, not a silent default."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    StringConstraints,
    Tag,
)

from nofx.ai.config import TraderSection
from nofx.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from nofx.live.paper import MAX_SPEED


def _money_in(v: Any) -> Any:
    if isinstance(v, bool) or isinstance(v, float):
        raise ValueError("give money as a decimal string such as \"10.50\" (not a JSON float)")
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, str):
        v = v.strip()
        if len(v) > 32:
            raise ValueError("decimal string too long")
    return v


# Times always carry their offset (RFC 3339). The API's own records are stored as naive UTC; ledger and
# market times are the exchange's local time, and SSE, SZSE, BSE and HKEX all keep UTC+8 (no DST).
MARKET_TZ = timezone(timedelta(hours=8))


def market_time(d: datetime) -> datetime:
    return d if d.tzinfo is not None else d.replace(tzinfo=MARKET_TZ)


def _utc(d: datetime) -> datetime:
    return d if d.tzinfo is not None else d.replace(tzinfo=timezone.utc)


UtcTime = Annotated[datetime, AfterValidator(_utc)]
MarketTime = Annotated[datetime, AfterValidator(market_time)]

# At most 4 decimal places (the ledger's money columns) and 16 integer digits.
MoneyIn = Annotated[Decimal, BeforeValidator(_money_in), Field(max_digits=20, decimal_places=4, allow_inf_nan=False)]
def money_text(d: Decimal) -> str:
    """One canonical text per amount, whichever database or engine it came from: plain notation without
    trailing zeros, never an exponent. Decimal("560.2500") -> "560.25", Decimal("1E+6") -> "1000000"."""
    return format(d.normalize(), "f") if d else "0"


Money = Annotated[Decimal, PlainSerializer(money_text, return_type=str, when_used="json")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{3,64}$")]
SymbolText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
ClientOrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
TraderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- auth ---------------------------------------------------------------------------------------------
class LoginRequest(Request):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class RefreshRequest(Request):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int  # seconds until the access token expires


class ApiKeyCreate(Request):
    name: Name


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    prefix: str
    revoked: bool
    created: UtcTime
    last_used: UtcTime | None


class ApiKeyCreated(ApiKeyOut):
    api_key: str  # shown once; only its digest is stored


# ---- users (admin) ------------------------------------------------------------------------------------
class UserCreate(Request):
    username: Username
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)]
    is_admin: bool = False


class UserPatch(Request):
    disabled: bool | None = None
    is_admin: bool | None = None


class UserOut(BaseModel):
    user_id: str
    username: str
    is_admin: bool
    disabled: bool
    created: UtcTime


# ---- traders ------------------------------------------------------------------------------------------
class RiskLimits(Request):
    """Per-trader pre-trade limits (see nofx.engine.risk.RiskConfig); omitted: no limit."""

    max_orders_per_window: int | None = Field(default=None, gt=0, le=1_000_000)
    max_orders_per_symbol_window: int | None = Field(default=None, gt=0, le=1_000_000)
    rate_window_seconds: float = Field(default=1.0, gt=0, le=86400)
    max_order_value: MoneyIn | None = Field(default=None, gt=0)
    max_position_value: MoneyIn | None = Field(default=None, gt=0)
    max_gross_exposure: MoneyIn | None = Field(default=None, gt=0)
    max_price_deviation: float | None = Field(default=None, gt=0, le=100)
    max_open_orders: int | None = Field(default=None, gt=0, le=1_000_000)
    daily_loss_limit: MoneyIn | None = Field(default=None, gt=0)


class AccountConfig(Request):
    """What every trader has: its universe, period, account and limits, and the replay pace."""

    symbols: list[SymbolText] = Field(min_length=1, max_length=50)
    start: date | None = None
    end: date | None = None
    cash: MoneyIn = Field(default=Decimal("1000000"), gt=0)
    rules: Literal["auto", "cn", "hk", "none"] = "auto"
    fees: Literal["default", "zero"] = "default"
    speed: float = Field(default=0.0, ge=0, le=MAX_SPEED)  # 0: replay as fast as possible; N: N x real time
    risk: RiskLimits = Field(default_factory=RiskLimits)


class TraderConfig(AccountConfig):
    """A strategy trader: a registered strategy (``nofx strategies``) and its parameters."""

    strategy: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=50)


class AITraderConfig(AccountConfig):
    """An AI trader. ``trader`` is the ``[trader]`` section of ``nofx ai paper``'s TOML, the same model:
    ``base_url`` and ``model`` of an OpenAI-compatible endpoint the server allows, ``api_key_env`` (the
    NAME of the server's environment variable that holds the key, never the key), ``decision_every`` or
    ``decision_times`` (the interval), ``language``/``style`` (the prompt), ``limits`` and the rest. Files
    on the server (``prompt_template``, role templates, ``news``, ``cache_dir``) cannot be set over HTTP."""

    trader: TraderSection


def _trader_kind(v: Any) -> str:
    kind = v.get("kind", "strategy") if isinstance(v, dict) else getattr(v, "kind", "strategy")
    return f"kind={kind}" if kind in ("strategy", "ai") else "invalid"  # the tags: errors.UNION_TAG


class StrategyTraderCreate(Request):
    name: Name
    kind: Literal["strategy"] = "strategy"
    config: TraderConfig


class AITraderCreate(Request):
    name: Name
    kind: Literal["ai"]
    config: AITraderConfig


TraderCreate = Annotated[Annotated[StrategyTraderCreate, Tag("kind=strategy")]
                         | Annotated[AITraderCreate, Tag("kind=ai")],
                         Discriminator(_trader_kind, custom_error_type="invalid_kind",
                                       custom_error_message="kind must be 'strategy' or 'ai'")]


class TraderPatch(Request):
    name: Name | None = None
    config: TraderConfig | AITraderConfig | None = None  # of the trader's own kind


class TraderOut(BaseModel):
    trader_id: str
    name: str
    kind: str
    config: dict[str, Any]
    desired: Literal["running", "stopped"]
    state: str  # starting | running | finished | failed | stopped
    error: str | None
    created: UtcTime
    updated: UtcTime


# ---- orders -------------------------------------------------------------------------------------------
class OrderCreate(Request):
    trader_id: TraderId
    client_order_id: ClientOrderId
    symbol: SymbolText
    side: Side
    quantity: int = Field(gt=0, le=10**9)
    order_type: OrderType = OrderType.LIMIT
    limit_price: MoneyIn | None = Field(default=None, gt=0)
    tif: TimeInForce = TimeInForce.DAY


class OrderOut(BaseModel):
    order_id: str
    trader_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    limit_price: Money | None
    tif: TimeInForce
    status: OrderStatus
    filled_qty: int
    avg_fill_price: Money
    fees: Money
    reject_code: str
    reject_reason: str
    created: MarketTime
    updated: MarketTime | None


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


class TradeOut(BaseModel):
    fill_id: str
    order_id: str
    symbol: str
    side: Side
    quantity: int
    price: Money
    fee: Money
    realised_pnl: Money | None
    ts: MarketTime


class TradePage(BaseModel):
    items: list[TradeOut]
    next_cursor: str | None


class PositionOut(BaseModel):
    symbol: str
    quantity: int
    avg_cost: Money
    realised_pnl: Money
    updated: MarketTime
    sellable: int | None = None  # quantity less shares still locked by T+1 on the trader's current day
    last_price: Money | None = None  # close at the trader's last processed slice (None: no bar)
    market_value: Money | None = None
    unrealised_pnl: Money | None = None  # (last_price - avg_cost) x quantity, fees not included


class AccountOut(BaseModel):
    trader_id: str
    initial_cash: Money
    cash: Money
    equity: Money | None  # at the last processed slice (None before the first)
    as_of: MarketTime | None
    positions: int


class EquityPoint(BaseModel):
    ts: MarketTime
    equity: Money
    cash: Money


# ---- market -------------------------------------------------------------------------------------------
class Bar(BaseModel):
    ts: str
    open: str | None
    high: str | None
    low: str | None
    close: str | None
    preclose: str | None
    volume: int | None
    suspended: bool
    limit_up: str | None = None  # the day's price-limit band (bars endpoint only; None: no limit)
    limit_down: str | None = None


class QuoteOut(BaseModel):
    symbol: str  # the resolved symbol (a bare code comes back with its exchange suffix)
    quote: Bar
    bars: list[Bar]


class BarsOut(BaseModel):
    symbol: str
    bars: list[Bar]


class SymbolOut(BaseModel):
    symbol: str
    first: MarketTime
    last: MarketTime
    bars: int
    is_index: bool


class StrategyOut(BaseModel):
    name: str
    summary: str
    params: dict[str, Any]  # JSON-schema properties of the parameter model
    required: list[str]


# ---- backtests ----------------------------------------------------------------------------------------
class BacktestCreate(Request):
    strategy: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=50)
    symbols: list[SymbolText] = Field(min_length=1, max_length=200)
    start: date | None = None
    end: date | None = None
    cash: MoneyIn = Field(default=Decimal("1000000"), gt=0)
    rules: Literal["auto", "cn", "hk", "none"] = "auto"
    fees: Literal["default", "zero"] = "default"
    fill: Literal["next_open", "close"] = "next_open"
    benchmark: SymbolText | None = None
    risk: RiskLimits = Field(default_factory=RiskLimits)


class BacktestOut(BaseModel):
    backtest_id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    metrics: dict[str, float | int | str | None] | None
    error: str | None
    created: UtcTime
    finished: UtcTime | None


class Created(BaseModel):
    id: str


# ---- leaderboard / decisions --------------------------------------------------------------------------
class LeaderRow(BaseModel):
    rank: int
    trader_id: str | None  # only for the caller's own traders
    name: str
    owner: str
    kind: str
    initial_cash: Money
    equity: Money | None
    return_pct: float | None


class Leaderboard(BaseModel):
    traders: list[LeaderRow]
    competitions: list[dict[str, Any]]


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
