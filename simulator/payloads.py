"""KuCoin's JSON shapes, field for field, for what the simulator serves.

The shapes follow the recorded payloads in ``../shared/kucoin/recorded`` (the newest contract
object, with funding caps and ``nextFundingRateDateTime``; klines as 6-element arrays of numbers;
tickers and trades with prices as strings, sizes as integer lots and ``ts`` in nanoseconds; book
levels as [price, lots] numbers; the ``{"code": "200000", "data": ...}`` envelope and
``{"code", "msg"}`` errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.market import Bars
from simulator.microstructure import Book, Tape
from simulator.universe import DATED, HOUR_MS, Contract, unified_base

OK = "200000"

_SOURCE_EXCHANGES = ["binance", "okex", "bybit", "kucoin", "gateio", "bitget"]
_FULL_NAMES = {"XBT": "Bitcoin", "BTC": "Bitcoin", "ETH": "Ethereum", "USDT": "Tether", "USDC": "USD Coin", "USD": "US Dollar"}


def envelope(data: Any) -> dict[str, Any]:
    return {"code": OK, "data": data}


def error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "msg": message}


@dataclass(frozen=True)
class DayStats:
    """What /contracts/active reports about the last 24 hours and the current state of a contract."""

    last_price: float
    mark_price: float
    index_price: float
    low_price: float
    high_price: float
    open_price: float
    volume_lots: float
    turnover_quote: float
    open_interest_lots: int
    funding_rate: float | None
    predicted_funding_rate: float | None
    next_funding_ms: int | None

    @classmethod
    def from_bars(cls, c: Contract, bars: Bars, fair_price: float, **state: Any) -> DayStats:
        if len(bars) == 0:  # just listed: nothing traded yet
            return cls(fair_price, fair_price, fair_price, fair_price, fair_price, fair_price, 0.0, 0.0, **state)
        lot_value = bars.volume / bars.close if c.is_inverse else bars.volume * c.multiplier * bars.close
        return cls(
            last_price=float(bars.close[-1]),
            mark_price=_on_tick(fair_price, c),
            index_price=_on_tick(fair_price * (1 - 0.00004), c),
            low_price=float(bars.low.min()),
            high_price=float(bars.high.max()),
            open_price=float(bars.open[0]),
            volume_lots=float(bars.volume.sum()),
            turnover_quote=float(lot_value.sum()),
            **state,
        )


def contract_object(c: Contract, stats: DayStats, now_ms: int) -> dict[str, Any]:
    """One element of /api/v1/contracts/active (and the data of /api/v1/contracts/{symbol})."""
    hours = (c.funding_granularity_ms or 8 * HOUR_MS) // HOUR_MS
    base = c.base
    linear_root = c.quote if not c.is_inverse else base
    change = stats.last_price - stats.open_price
    # KuCoin announces a delisting ahead of time: the expiry shows once it is a week away.
    expire = c.delisted_ms if c.delisted_ms is not None and (c.contract_type == DATED or c.delisted_ms - now_ms <= 7 * 24 * HOUR_MS) else None
    volume_24h = stats.volume_lots if c.is_inverse else stats.volume_lots * c.multiplier
    initial_margin = round(1.0 / c.max_leverage, 4)
    risk_limit = {1: 100_000, 2: 50_000, 3: 20_000, 4: 10_000, 5: 5_000}[c.tier]
    funding = c.funding_granularity_ms is not None
    return {
        "symbol": c.symbol,
        "rootSymbol": linear_root,
        "type": c.contract_type,
        "firstOpenDate": c.listed_ms,
        "expireDate": expire,
        "settleDate": expire if c.contract_type == DATED else None,
        "baseCurrency": base,
        "quoteCurrency": c.quote,
        "settleCurrency": c.settle,
        "maxOrderQty": 1_000_000,
        "maxPrice": 1_000_000,
        "lotSize": 1,
        "tickSize": c.tick_size,
        "indexPriceTickSize": c.tick_size,
        "multiplier": c.multiplier,
        "initialMargin": initial_margin,
        "maintainMargin": round(initial_margin / 2, 4),
        "maxRiskLimit": risk_limit,
        "minRiskLimit": risk_limit,
        "riskStep": risk_limit // 2,
        "makerFeeRate": 0.0002,
        "takerFeeRate": 0.0006,
        "takerFixFee": 0,
        "makerFixFee": 0,
        "settlementFee": None,
        "isDeleverage": True,
        "isQuanto": False,
        "isInverse": c.is_inverse,
        "markMethod": "FairPrice",
        "fairMethod": "FundingRate" if funding else None,
        "fundingBaseSymbol": f".{base}INT{hours}H" if funding else None,
        "fundingQuoteSymbol": f".{c.quote}INT{hours}H" if funding else None,
        "fundingRateSymbol": f".{c.symbol}FPI{hours}H" if funding else None,
        "indexSymbol": f".K{base}{c.quote}",
        "settlementSymbol": f".K{base}30M" if c.contract_type == DATED else "",
        "status": "Open",
        "fundingFeeRate": stats.funding_rate,
        "predictedFundingFeeRate": stats.predicted_funding_rate,
        "fundingRateGranularity": c.funding_granularity_ms,
        "fundingRateCap": (0.003 if c.tier <= 2 else 0.02) if funding else None,
        "fundingRateFloor": (-0.003 if c.tier <= 2 else -0.02) if funding else None,
        "period": 1 if funding else None,
        "openInterest": str(stats.open_interest_lots),
        "turnoverOf24h": _significant(stats.turnover_quote),
        "volumeOf24h": _significant(volume_24h),
        "markPrice": stats.mark_price,
        "indexPrice": stats.index_price,
        "lastTradePrice": stats.last_price,
        "nextFundingRateTime": stats.next_funding_ms - now_ms if stats.next_funding_ms is not None else None,
        "nextFundingRateDateTime": stats.next_funding_ms,
        "maxLeverage": c.max_leverage,
        "sourceExchanges": _SOURCE_EXCHANGES,
        "premiumsSymbol1M": f".{c.symbol}PI",
        "premiumsSymbol8H": f".{c.symbol}PI8H",
        "fundingBaseSymbol1M": f".{base}INT",
        "fundingQuoteSymbol1M": f".{c.quote}INT",
        "lowPrice": stats.low_price,
        "highPrice": stats.high_price,
        "priceChgPct": round(change / stats.open_price, 4) if stats.open_price else 0.0,
        "priceChg": round(change, c.price_decimals),
        "k": 490,
        "m": 300,
        "f": 1.3,
        "mmrLimit": 0.3,
        "mmrLevConstant": c.max_leverage,
        "supportCross": True,
        "buyLimit": _on_tick(stats.mark_price * 1.05, c),
        "sellLimit": _on_tick(stats.mark_price * 0.95, c),
        "adjustK": None,
        "adjustM": None,
        "adjustMmrLevConstant": None,
        "adjustActiveTime": None,
        "crossRiskLimit": risk_limit * 20,
        "marketStage": "NORMAL",
        "preMarketToPerpDate": None,
    }


def kline_rows(bars: Bars) -> list[list[float | int]]:
    """/api/v1/kline/query rows: [open time ms, open, high, low, close, volume in lots]."""
    # numpy converts each column to Python numbers at once (iterating an array makes a numpy
    # scalar per element); int64 truncates toward zero as int() does
    columns = (bars.open_ms.astype(np.int64), bars.open, bars.high, bars.low, bars.close, bars.volume.astype(np.int64))
    return [list(row) for row in zip(*(c.tolist() for c in columns), strict=True)]


def currency_object(code: str) -> dict[str, Any]:
    """An element of the spot API's /api/v3/currencies, which ccxt's load_markets also reads."""
    fiat = code == "USD"
    chains = [] if fiat else [
        {
            "chainName": unified_base(code), "chainId": unified_base(code).lower(), "withdrawalMinSize": "1",
            "depositMinSize": None, "withdrawFeeRate": "0", "withdrawalMinFee": "1", "isWithdrawEnabled": True,
            "isDepositEnabled": True, "confirms": 12, "preConfirms": 12, "contractAddress": "",
            "withdrawPrecision": 8, "maxWithdraw": None, "maxDeposit": None, "needTag": False,
        }
    ]
    return {
        "currency": unified_base(code),
        "name": unified_base(code),
        "fullName": _FULL_NAMES.get(code, unified_base(code)),
        "precision": 8,
        "confirms": None,
        "contractAddress": None,
        "isMarginEnabled": not fiat,
        "isDebitEnabled": not fiat,
        "chains": chains,
    }


def _on_tick(price: float, c: Contract) -> float:
    return round(round(price / c.tick_size) * c.tick_size, c.price_decimals)


def _significant(value: float, digits: int = 12) -> float:
    if value == 0 or not math.isfinite(value):
        return 0.0
    return round(value, max(0, digits - 1 - int(math.floor(math.log10(abs(value))))))


def price_text(price: float, decimals: int) -> str:
    """A price as KuCoin writes it in strings: fixed decimals, trailing zeros dropped ("73400", "0.0557")."""
    text = f"{price:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class LastTrade:
    """What a ticker shows of the last trade."""

    trade_id: int
    price: float
    size: int
    buy: bool


def trade_objects(c: Contract, contract_id: int, tape: Tape) -> list[dict[str, Any]]:
    """/api/v1/trade/history rows, newest first; side is the taker's."""
    return [
        {
            "sequence": int(tape.trade_id[i]), "contractId": contract_id, "tradeId": str(int(tape.trade_id[i])),
            "makerOrderId": str(int(tape.maker_order[i])), "takerOrderId": str(int(tape.taker_order[i])),
            "ts": int(tape.ts_ns[i]), "size": int(tape.size[i]), "price": price_text(float(tape.price[i]), c.price_decimals),
            "side": "buy" if tape.buy[i] else "sell",
        }
        for i in range(len(tape) - 1, -1, -1)
    ]


def ticker_object(c: Contract, last: LastTrade, book: Book) -> dict[str, Any]:
    """/api/v1/ticker (and an element of /api/v1/allTickers): the last trade and the touch."""
    return {
        "sequence": last.trade_id,
        "symbol": c.symbol,
        "side": "buy" if last.buy else "sell",
        "size": last.size,
        "tradeId": str(last.trade_id),
        "price": price_text(last.price, c.price_decimals),
        "bestBidPrice": price_text(float(book.bid_price[0]), c.price_decimals),
        "bestBidSize": int(book.bid_size[0]),
        "bestAskPrice": price_text(float(book.ask_price[0]), c.price_decimals),
        "bestAskSize": int(book.ask_size[0]),
        "ts": book.ts_ns,
    }


def book_object(c: Contract, book: Book) -> dict[str, Any]:
    """/api/v1/level2/{snapshot,depth20,depth100}: [price, lots] levels as numbers, as recorded."""
    return {
        "sequence": book.sequence,
        "symbol": c.symbol,
        "bids": [[_number(p, float), _number(s, int)] for p, s in zip(book.bid_price, book.bid_size, strict=True)],
        "asks": [[_number(p, float), _number(s, int)] for p, s in zip(book.ask_price, book.ask_size, strict=True)],
        "ts": book.ts_ns,
    }


def _number(value: Any, kind: type) -> Any:
    """A numpy number as a JSON number; a fault's null or "NaN" as it is."""
    return kind(value) if isinstance(value, (int, float, np.number)) else value


def funding_symbol(c: Contract) -> str:
    hours = (c.funding_granularity_ms or 8 * HOUR_MS) // HOUR_MS
    return f".{c.symbol}FPI{hours}H"


def funding_current_object(c: Contract, rate: float | str | None, predicted: float, next_settlement_ms: int) -> dict[str, Any]:
    """/api/v1/funding-rate/{symbol}/current: the rate of the period that settles at fundingTime."""
    assert c.funding_granularity_ms is not None
    cap = 0.003 if c.tier <= 2 else 0.02
    return {
        "symbol": funding_symbol(c),
        "granularity": c.funding_granularity_ms,
        "timePoint": next_settlement_ms - c.funding_granularity_ms,
        "value": rate,
        "predictedValue": predicted,
        "fundingRateCap": cap,
        "fundingRateFloor": -cap,
        "period": 1,
        "fundingTime": next_settlement_ms,
    }


def funding_history_objects(c: Contract, settlements_ms: np.ndarray, rates: np.ndarray) -> list[dict[str, Any]]:
    """/api/v1/contract/funding-rates rows, newest first."""
    return [
        {"symbol": c.symbol, "fundingRate": float(rate), "timepoint": int(t)}
        for t, rate in zip(settlements_ms[::-1], rates[::-1], strict=True)
    ]


def mark_price_object(c: Contract, mark: float, index: float, now_ms: int) -> dict[str, Any]:
    """/api/v1/mark-price/{symbol}/current (granularity 1 s, like KuCoin's)."""
    return {"symbol": c.symbol, "granularity": 1000, "timePoint": now_ms // 1000 * 1000, "value": mark, "indexPrice": index}


def open_interest_objects(times_ms: np.ndarray, lots: np.ndarray, symbol: str | None = None) -> list[dict[str, Any]]:
    """/api/ua/v1/market/open-interest rows in the given order: lots as strings, ts in ms (with
    the symbol in the per-symbol snapshot mode)."""
    head = {} if symbol is None else {"symbol": symbol}
    return [{**head, "openInterest": str(int(v)), "ts": int(t)} for t, v in zip(times_ms, lots, strict=True)]
