"""KuCoin's request semantics, shapes and faults, without HTTP in between."""

from datetime import UTC, datetime

import pytest

from simulator.config import ConfigError, SimulatorConfig
from simulator.exchange import Exchange, KlineQuery, RequestRejected
from simulator.faults import FaultProfile, FaultSpecError, parse_faults

NOW = int(datetime(2026, 11, 1, 12, 30, tzinfo=UTC).timestamp() * 1000)  # the exchange's clock, mid-hour
HOUR = 3_600_000
MINUTE = 60_000
NOON = NOW - 30 * MINUTE


@pytest.fixture(scope="module")
def exchange() -> Exchange:
    return Exchange(SimulatorConfig(n_contracts=120, now_ms=NOW))


def klines(exchange: Exchange, start: int | None, end: int | None, granularity: int = 1, symbol: str = "XBTUSDTM") -> list[list[float]]:
    return exchange.klines(KlineQuery(symbol, granularity, start, end))


def test_klines_cover_from_to_inclusive_oldest_first_at_most_a_page(exchange: Exchange) -> None:
    start = NOON - 10 * HOUR
    rows = klines(exchange, start, start + 10 * MINUTE)
    assert [r[0] for r in rows] == [start + m * MINUTE for m in range(11)]  # both ends included
    page = klines(exchange, start, start + 300 * MINUTE)
    assert len(page) == 200 and page[0][0] == start  # one page from `from` forward


def test_an_unaligned_from_starts_at_the_next_bucket(exchange: Exchange) -> None:
    start = NOON - 5 * HOUR - 1_234
    rows = klines(exchange, start, start + 3 * HOUR, granularity=60)
    assert [r[0] for r in rows] == [NOON - 5 * HOUR + h * HOUR for h in range(3)]


def test_only_closed_candles_are_served(exchange: Exchange) -> None:
    rows = klines(exchange, NOW - 5 * MINUTE, NOW + HOUR)
    assert rows[-1][0] == NOW - MINUTE  # the minute [12:29, 12:30) has closed; 12:30 has not


def test_only_to_gives_the_points_closest_to_it(exchange: Exchange) -> None:
    rows = klines(exchange, None, NOW - HOUR)
    assert len(rows) == 200 and rows[-1][0] == NOW - HOUR


def test_aggregated_klines_conserve_volume_and_range(exchange: Exchange) -> None:
    start = NOON - 4 * HOUR
    minutes = klines(exchange, start, start + HOUR - MINUTE)
    [hour] = klines(exchange, start, start, granularity=60)
    assert hour[1] == minutes[0][1] and hour[4] == minutes[-1][4]
    assert hour[2] == max(r[2] for r in minutes) and hour[3] == min(r[3] for r in minutes)
    assert hour[5] == sum(r[5] for r in minutes)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (KlineQuery("NOPEUSDTM", 1, None, None), "contract 'NOPEUSDTM' does not exist"),
        (KlineQuery("XBTUSDTM", 7, None, None), "granularity 7 is invalid"),
        (KlineQuery("XBTUSDTM", 1, NOW, NOW - HOUR), "is after to="),
    ],
)
def test_bad_parameters_are_refused_with_kucoin_codes(exchange: Exchange, query: KlineQuery, message: str) -> None:
    with pytest.raises(RequestRejected, match=message) as refused:
        exchange.klines(query)
    assert (refused.value.status, refused.value.code) == (400, "400100")


def test_contracts_report_consistent_24h_statistics(exchange: Exchange) -> None:
    contract = next(c for c in exchange.contracts_active() if c["symbol"] == "ETHUSDTM")
    rows = []  # the last 24 hours, a page at a time
    start = NOW - 24 * HOUR
    while start < NOW:
        rows += klines(exchange, start, min(start + 199 * MINUTE, NOW - MINUTE), symbol="ETHUSDTM")
        start += 200 * MINUTE
    lots = sum(r[5] for r in rows)
    assert contract["volumeOf24h"] == pytest.approx(lots * contract["multiplier"], rel=1e-9)
    assert contract["lastTradePrice"] == rows[-1][4]
    assert contract["highPrice"] == max(r[2] for r in rows) and contract["lowPrice"] == min(r[3] for r in rows)
    assert contract["nextFundingRateDateTime"] - NOW == contract["nextFundingRateTime"] > 0
    assert int(contract["openInterest"]) > 0 and isinstance(contract["openInterest"], str)


def test_a_corrupt_candle_fault_is_stable_across_requests() -> None:
    faulty = Exchange(SimulatorConfig(n_contracts=60, now_ms=NOW, faults=parse_faults("ohlc_inverted=0.05")))
    first = klines(faulty, NOW - 2 * HOUR, NOW - HOUR)
    again = klines(faulty, NOW - 2 * HOUR, NOW - HOUR)
    inverted = [r for r in first if r[2] < r[3]]
    assert inverted and first == again  # the same candles are bad on every request


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("teleport=1", "fault 'teleport' in 'teleport=1' is unknown; known faults: crash_after_klines, ohlc_inverted"),
        ("ohlc_inverted", "needs a value"),
        ("ohlc_inverted=1.5", "the value must be a share between 0 and 1"),
        ("crash_after_klines=-2", "the value must be a whole number >= 0"),
        ("crash_after_klines=1,crash_after_klines=2", "is given twice"),
    ],
)
def test_bad_fault_profiles_name_the_fault_and_the_rule(text: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(text)


def test_a_fault_profile_round_trips_through_its_description() -> None:
    profile = parse_faults(" ohlc_inverted=0.25 , crash_after_klines=7 ")
    assert profile == FaultProfile(crash_after_klines=7, ohlc_inverted=0.25)
    assert parse_faults(profile.describe()) == profile and parse_faults("").describe() == "none"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "0.0.0.0"}, "only listens on a loopback address"),
        ({"host": "10.1.2.3"}, "only listens on a loopback address"),
        ({"n_contracts": 5}, "contracts=5: must be between 10"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimulatorConfig(**kwargs)  # type: ignore[arg-type]
