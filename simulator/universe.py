"""The simulated contract universe: which contracts exist, when they trade, and how they behave.

The universe is a deterministic function of (seed, size). It opens with the 254 real linear
contracts of ``data/linear_contracts_2023_11.csv`` (real ids and lot multipliers), the big
coin-margined (inverse) and USDC-margined perpetuals, and a few dated quarterlies, then fills up
with synthetic contracts. Synthetic listings spread into the future, and some contracts are
delisted, so the set the exchange serves changes as its clock moves: new listings and delistings
happen over time.

Each contract's traits (sector, liquidity tier, volatility, factor loadings, listing price) are
drawn from streams keyed by its symbol, so they do not depend on the universe's size: the first
50 contracts of a 700-contract universe are the same 50 contracts, with the same prices.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np

from simulator.rng import stream_key, uniforms

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# Hour 0 of the simulated market; nothing trades before it.
EPOCH_MS = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)
# Every contract's price path is pinned to its reference price here (or at its listing, when
# later): prices near the present look like today's market whatever the walk did since 2020.
REFERENCE_MS = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)

PERPETUAL = "FFWCSX"
DATED = "FFICSX"

SECTORS = (
    "layer1", "layer2", "defi", "meme", "ai", "gaming", "infrastructure",
    "exchange", "payments", "privacy", "storage", "rwa",
)

# Well-known bases: (sector, price in USD at REFERENCE_MS, liquidity tier). Tier 1 is the most
# liquid. Prices are a plausible level for the reference date; the simulated path moves from it.
_KNOWN: dict[str, tuple[str, float, int]] = {
    "BTC": ("layer1", 90_000.0, 1), "ETH": ("layer1", 3_000.0, 1),
    "SOL": ("layer1", 130.0, 2), "XRP": ("payments", 1.9, 2), "DOGE": ("meme", 0.13, 2),
    "ADA": ("layer1", 0.35, 2), "BNB": ("exchange", 860.0, 2), "AVAX": ("layer1", 12.0, 2),
    "LINK": ("infrastructure", 12.5, 2), "LTC": ("payments", 78.0, 2), "TRX": ("layer1", 0.28, 2),
    "DOT": ("layer1", 1.8, 2), "BCH": ("payments", 520.0, 2), "MATIC": ("layer2", 0.11, 2),
    "TON": ("layer1", 1.6, 2), "SHIB": ("meme", 0.0000072, 2), "1000PEPE": ("meme", 0.004, 2),
    "ARB": ("layer2", 0.19, 2), "OP": ("layer2", 0.28, 2), "APT": ("layer1", 1.6, 2),
    "SUI": ("layer1", 1.45, 2), "NEAR": ("layer1", 1.5, 2), "ATOM": ("layer1", 2.0, 3),
    "UNI": ("defi", 5.5, 3), "AAVE": ("defi", 160.0, 3), "MKR": ("defi", 1_500.0, 3),
    "CRV": ("defi", 0.35, 3), "COMP": ("defi", 25.0, 3), "SNX": ("defi", 0.4, 3),
    "LDO": ("defi", 0.55, 3), "1INCH": ("defi", 0.14, 3), "SUSHI": ("defi", 0.25, 3),
    "DYDX": ("exchange", 0.18, 3), "GMX": ("defi", 8.0, 3), "PENDLE": ("defi", 1.8, 3),
    "FET": ("ai", 0.2, 3), "AGIX": ("ai", 0.25, 3), "OCEAN": ("ai", 0.25, 3),
    "RNDR": ("ai", 1.2, 3), "WLD": ("ai", 0.5, 3), "TAO": ("ai", 220.0, 3),
    "AXS": ("gaming", 0.8, 3), "SAND": ("gaming", 0.11, 3), "MANA": ("gaming", 0.14, 3),
    "GALA": ("gaming", 0.006, 3), "IMX": ("gaming", 0.25, 3), "APE": ("gaming", 0.2, 3),
    "ENJ": ("gaming", 0.03, 3), "FIL": ("storage", 1.3, 3), "AR": ("storage", 3.5, 3),
    "STORJ": ("storage", 0.15, 3), "XMR": ("privacy", 400.0, 3), "ZEC": ("privacy", 450.0, 3),
    "DASH": ("privacy", 40.0, 3), "ETC": ("layer1", 12.0, 3), "XLM": ("payments", 0.22, 3),
    "ALGO": ("layer1", 0.12, 3), "EOS": ("layer1", 0.4, 3), "XTZ": ("layer1", 0.45, 3),
    "HBAR": ("layer1", 0.11, 3), "ICP": ("layer1", 3.0, 3), "INJ": ("defi", 5.0, 3),
    "KAVA": ("defi", 0.1, 3), "STX": ("layer2", 0.25, 3), "MINA": ("layer1", 0.1, 3),
    "GRT": ("infrastructure", 0.04, 3), "QNT": ("infrastructure", 75.0, 3), "ANKR": ("infrastructure", 0.007, 3),
    "API3": ("infrastructure", 0.45, 3), "BAND": ("infrastructure", 0.3, 3), "ENS": ("infrastructure", 10.0, 3),
    "BLUR": ("gaming", 0.03, 3), "1000BONK": ("meme", 0.008, 3), "FLOKI": ("meme", 0.00005, 3),
    "WIF": ("meme", 0.35, 3), "ORDI": ("meme", 4.5, 3), "10000SATS": ("meme", 0.0002, 3),
    "ONDO": ("rwa", 0.4, 3), "POLYX": ("rwa", 0.06, 3), "CFG": ("rwa", 0.12, 3),
    "KCS": ("exchange", 11.0, 3), "CRO": ("exchange", 0.09, 3), "FTM": ("layer1", 0.5, 3),
}
_TIER_TURNOVER_USD = {1: 2.5e9, 2: 2.0e8, 3: 2.5e7, 4: 2.5e6, 5: 1.5e5}  # median daily turnover
_TIER_ANNUAL_VOL = {1: 0.55, 2: 0.80, 3: 0.95, 4: 1.10, 5: 1.30}
TIER_MAX_LEVERAGE = {1: 125, 2: 75, 3: 50, 4: 20, 5: 10}
_SECTOR_VOL_FACTOR = {"meme": 1.35, "ai": 1.15, "gaming": 1.1, "payments": 0.9, "exchange": 0.9}

_REAL_LINEAR_FILE = Path(__file__).parent / "data" / "linear_contracts_2023_11.csv"
_REAL_LISTING_FROM = datetime(2020, 1, 15, tzinfo=UTC)
_REAL_LISTING_TO = datetime(2023, 11, 1, tzinfo=UTC)
_SYNTHETIC_LISTING_FROM = datetime(2023, 12, 1, tzinfo=UTC)
_SYNTHETIC_LISTING_TO = datetime(2027, 12, 31, tzinfo=UTC)
_INVERSE_BASES = ("XBT", "ETH", "XRP", "DOT", "ADA", "LTC")
_QUARTER_MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}


@dataclass(frozen=True)
class Contract:
    symbol: str  # exchange id, e.g. XBTUSDTM
    base: str  # KuCoin currency code (XBT for bitcoin)
    quote: str
    settle: str
    contract_type: str  # FFWCSX perpetual, FFICSX dated
    is_inverse: bool
    multiplier: float  # base units per lot (linear); -1 for inverse (1 USD per lot)
    tick_size: float
    max_leverage: int
    listed_ms: int  # first minute that trades
    delisted_ms: int | None  # first minute that no longer trades (delisting or expiry)
    funding_granularity_ms: int | None  # None for dated futures
    sector: str
    tier: int
    annual_vol: float
    market_loading: float  # correlation of the contract's shocks with the market factor
    sector_loading: float  # ... and with its sector's factor
    reference_price: float  # price at max(REFERENCE_MS, listed_ms); ticks are sized for it
    daily_turnover_usd: float
    underlying: str | None = None  # symbol whose fair price this contract follows (inverse, USDC, dated)
    key: int = 0  # stream key of the contract's own randomness

    @property
    def price_decimals(self) -> int:
        return max(0, -int(math.floor(math.log10(self.tick_size) + 1e-9)))

    def trades_at(self, ms: int) -> bool:
        return self.listed_ms <= ms and (self.delisted_ms is None or ms < self.delisted_ms)

    def is_listed(self, now_ms: int) -> bool:
        """Whether the exchange lists the contract at ``now_ms`` (announced ones are not served yet)."""
        return self.trades_at(now_ms)

    @property
    def idio_loading(self) -> float:
        return math.sqrt(max(0.05, 1.0 - self.market_loading**2 - self.sector_loading**2))


def tick_for(price: float) -> float:
    """A power-of-ten tick of 1e-6 to 1e-5 of the price, as KuCoin's (XBTUSDTM 0.1, ETHUSDTM 0.01)."""
    return 10.0 ** (math.floor(math.log10(price)) - 5)


def unified_base(base: str) -> str:
    return "BTC" if base == "XBT" else base


@cache
def build_universe(seed: int, size: int) -> tuple[Contract, ...]:
    """The first ``size`` contracts of the seed's universe, in a fixed order (majors first)."""
    if size < 10:
        raise ValueError(f"universe size {size}: at least 10 contracts are needed (the portfolio holds ten)")
    real = _real_linear(seed)
    followers = _followers(seed, {c.symbol: c for c in real})
    synthetic = _synthetic(seed, max(0, size - len(real) - len(followers)), {c.base for c in real})
    # Majors first, then the other real contracts, their followers, and the synthetic ones: a
    # smaller universe is a prefix of a larger one.
    ordered = sorted(real, key=lambda c: c.tier > 2) + followers + synthetic
    return tuple(ordered[:size])


def _draw(seed: int, symbol: str, trait: str) -> float:
    return float(uniforms(stream_key(seed, "contract", symbol, trait), 0)[0])


def _lognormal(seed: int, symbol: str, trait: str, sigma: float) -> float:
    u = _draw(seed, symbol, trait)
    # inverse of the logistic approximation of the normal CDF is plenty for a trait
    return math.exp(sigma * 0.5513 * math.log(u / (1 - u)))


def _timestamp_between(seed: int, symbol: str, trait: str, start: datetime, end: datetime) -> int:
    span_hours = int((end - start).total_seconds() // 3600)
    hour = int(_draw(seed, symbol, trait) * span_hours)
    return int(start.timestamp() * 1000) + hour * HOUR_MS


def _contract(
    seed: int, symbol: str, base: str, quote: str, settle: str, multiplier: float, listed_ms: int,
    *, sector: str, tier: int, reference_price: float, contract_type: str = PERPETUAL, is_inverse: bool = False,
    delisted_ms: int | None = None, underlying: str | None = None,
) -> Contract:
    vol = _TIER_ANNUAL_VOL[tier] * _SECTOR_VOL_FACTOR.get(sector, 1.0) * _lognormal(seed, symbol, "vol", 0.2)
    funding_draw = _draw(seed, symbol, "funding")
    funding = None if contract_type == DATED else (HOUR_MS if funding_draw < 0.02 else 4 * HOUR_MS if funding_draw < 0.15 else 8 * HOUR_MS)
    if tier <= 2 and funding is not None:
        funding = 8 * HOUR_MS
    market_loading = 0.92 if base == "XBT" else 0.55 + 0.3 * _draw(seed, symbol, "beta")
    return Contract(
        symbol=symbol, base=base, quote=quote, settle=settle, contract_type=contract_type, is_inverse=is_inverse,
        multiplier=multiplier, tick_size=tick_for(reference_price), max_leverage=TIER_MAX_LEVERAGE[tier],
        listed_ms=listed_ms, delisted_ms=delisted_ms, funding_granularity_ms=funding, sector=sector, tier=tier,
        annual_vol=vol, market_loading=market_loading,
        sector_loading=0.0 if base == "XBT" else 0.2 + 0.25 * _draw(seed, symbol, "sector-beta"),
        reference_price=reference_price,
        daily_turnover_usd=_TIER_TURNOVER_USD[tier] * _lognormal(seed, symbol, "turnover", 0.6),
        underlying=underlying, key=stream_key(seed, "contract", symbol),
    )


def _maybe_delisted(seed: int, symbol: str, tier: int, listed_ms: int, share: float) -> int | None:
    if tier <= 2 or _draw(seed, symbol, "delist") >= share:
        return None
    earliest = datetime.fromtimestamp((listed_ms + 120 * DAY_MS) / 1000, tz=UTC)
    return _timestamp_between(seed, symbol, "delist-at", earliest, max(earliest, _SYNTHETIC_LISTING_TO))


def _real_linear(seed: int) -> list[Contract]:
    contracts = []
    with _REAL_LINEAR_FILE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            unified, quote = row["pair"].split("/")
            base = "XBT" if unified == "BTC" else unified
            symbol = f"{base}{quote}M"
            sector, price, tier = _KNOWN.get(unified, (None, None, None))
            tier = tier or (4 if _draw(seed, symbol, "tier") < 0.75 else 3)
            sector = sector or SECTORS[int(_draw(seed, symbol, "sector") * len(SECTORS))]
            price = price or 10 ** (-3 + 5 * _draw(seed, symbol, "price"))
            listed = _timestamp_between(seed, symbol, "listed", _REAL_LISTING_FROM, _REAL_LISTING_TO)
            if tier == 1:
                listed = int(_REAL_LISTING_FROM.timestamp() * 1000)
            underlying = None
            if quote == "USDC":  # USDC-margined twins follow the USDT contract's fair price
                underlying, tier = f"{base}USDTM", 3
            contracts.append(
                _contract(
                    seed, symbol, base, quote, quote, float(row["multiplier"]), listed, sector=sector, tier=tier,
                    reference_price=price, delisted_ms=_maybe_delisted(seed, symbol, tier, listed, 0.12), underlying=underlying,
                )
            )
    return contracts


def _followers(seed: int, linear: dict[str, Contract]) -> list[Contract]:
    """Inverse perpetuals and dated quarterlies: their fair price is that of the USDT perpetual."""
    contracts = []
    for base in _INVERSE_BASES:
        under = linear[f"{base}USDTM"]
        symbol = f"{base}USDM"
        contracts.append(
            _contract(
                seed, symbol, base, "USD", base, -1.0, under.listed_ms, sector=under.sector, tier=3 if base != "XBT" else 2,
                reference_price=under.reference_price, is_inverse=True, underlying=under.symbol,
            )
        )
    under = linear["XBTUSDTM"]
    for year in (2025, 2026, 2027):
        for month, code in _QUARTER_MONTH_CODES.items():
            expiry = datetime(year, month, 1, 8, tzinfo=UTC)  # settles at 08:00 UTC
            listed = expiry.timestamp() * 1000 - 182 * DAY_MS
            symbol = f"XBTM{code}{year % 100}"
            contracts.append(
                _contract(
                    seed, symbol, "XBT", "USD", "XBT", -1.0, int(listed), sector="layer1", tier=3,
                    reference_price=under.reference_price, contract_type=DATED, is_inverse=True,
                    delisted_ms=int(expiry.timestamp() * 1000), underlying=under.symbol,
                )
            )
    return contracts


def _synthetic(seed: int, count: int, taken: set[str]) -> list[Contract]:
    contracts = []
    index = 0
    while len(contracts) < count:
        base = _synthetic_name(seed, index, taken)
        index += 1
        symbol = f"{base}USDTM"
        tier = 5 if _draw(seed, symbol, "tier") < 0.35 else 4 if _draw(seed, symbol, "tier2") < 0.8 else 3
        price = 10 ** (-4 + 6 * _draw(seed, symbol, "price"))
        lot_usd = 10 ** (0.5 + 1.5 * _draw(seed, symbol, "lot"))
        multiplier = 10.0 ** round(math.log10(lot_usd / price))
        listed = _timestamp_between(seed, symbol, "listed", _SYNTHETIC_LISTING_FROM, _SYNTHETIC_LISTING_TO)
        contracts.append(
            _contract(
                seed, symbol, base, "USDT", "USDT", multiplier, listed,
                sector=SECTORS[int(_draw(seed, symbol, "sector") * len(SECTORS))], tier=tier, reference_price=price,
                delisted_ms=_maybe_delisted(seed, symbol, tier, listed, 0.10),
            )
        )
    return contracts


_CONSONANTS = "BCDFGHJKLMNPRSTVWXZ"
_VOWELS = "AEIOUY"


def _synthetic_name(seed: int, index: int, taken: set[str]) -> str:
    attempt = 0
    while True:
        draws = uniforms(stream_key(seed, "synthetic-name", index, attempt), np.arange(8))
        syllables = 2 + int(draws[0] * 2)
        name = "".join(
            _CONSONANTS[int(draws[1 + 2 * i] * len(_CONSONANTS))] + _VOWELS[int(draws[2 + 2 * i] * len(_VOWELS))]
            for i in range(syllables)
        )
        name = name[: 3 + int(draws[7] * 3)]
        if name not in taken:
            taken.add(name)
            return name
        attempt += 1
