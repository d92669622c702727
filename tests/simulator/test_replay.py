"""Replay mode: recorded candles served exactly, and bad files refused at startup with file, line and rule."""

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from simulator.config import ConfigError, SimulatorConfig
from simulator.market import MINUTE_MS
from simulator.replay import ReplayError, load_replay
from simulator.server import SimulatorProcess, SimulatorServer
from tests.simulator.support import NOW, data

START = NOW - 10 * MINUTE_MS


def candles() -> pd.DataFrame:
    """ZZTESTUSDTM is not in the universe, XBTUSDTM is. ZZTEST's minute 3 is missing (a gap),
    minute 5 is flat and idle, minute 7 flat with trades."""
    values = [
        (1.2345, 1.2400, 1.2300, 1.2390, 40), (1.2390, 1.2410, 1.2380, 1.2400, 7), (1.2400, 1.2400, 1.2350, 1.2350, 3),
        None, (1.2350, 1.2500, 1.2340, 1.2480, 120), (1.2480, 1.2480, 1.2480, 1.2480, 0), (1.2480, 1.2490, 1.2470, 1.2470, 2),
        (1.2470, 1.2470, 1.2470, 1.2470, 5), (1.2470, 1.2600, 1.2460, 1.2550, 900), (1.2550, 1.2560, 1.2540, 1.2545, 33),
    ]
    rows = [("ZZTESTUSDTM", START + m * MINUTE_MS, *v) for m, v in enumerate(values) if v is not None]
    rows += [("XBTUSDTM", START + m * MINUTE_MS, 90_000.5, 90_010.25, 89_990.0, 90_001.75, 11 + m) for m in range(10)]
    return pd.DataFrame(rows, columns=["symbol", "open_time", "open", "high", "low", "close", "volume"])


@pytest.fixture(scope="module", params=["csv", "parquet"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    folder = tmp_path_factory.mktemp(request.param)
    frame = candles()
    if request.param == "csv":
        frame = frame.assign(open_time=pd.to_datetime(frame["open_time"], unit="ms", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        frame.to_csv(folder / "candles.csv", index=False)
    else:
        frame.to_parquet(folder / "candles.parquet", index=False)
    with SimulatorServer(SimulatorConfig(n_contracts=30, now_ms=NOW, replay=folder)) as running:
        yield running


def test_replayed_candles_are_served_exactly(server: SimulatorServer) -> None:
    expected = candles()
    for symbol in ("ZZTESTUSDTM", "XBTUSDTM"):
        rows = data(server.url, f"/api/v1/kline/query?symbol={symbol}&granularity=1&from={START}&to={NOW}")
        want = expected[expected.symbol == symbol]
        assert rows == [[int(t), o, h, lo, c, int(v)] for _, t, o, h, lo, c, v in want.itertuples(index=False)]
    [five] = data(server.url, f"/api/v1/kline/query?symbol=ZZTESTUSDTM&granularity=5&from={START + 5 * MINUTE_MS}&to={START + 5 * MINUTE_MS}")
    assert five == [START + 5 * MINUTE_MS, 1.248, 1.26, 1.246, 1.2545, 940]  # built from the replayed minutes


def test_a_new_symbol_gets_a_contract_and_its_market_derives_from_the_candles(server: SimulatorServer) -> None:
    contract = data(server.url, "/api/v1/contracts/ZZTESTUSDTM")
    assert (contract["type"], contract["quoteCurrency"], contract["tickSize"], contract["firstOpenDate"]) == ("FFWCSX", "USDT", 0.0001, START)
    assert contract["lastTradePrice"] == 1.2545 and contract["highPrice"] == 1.26 and contract["lowPrice"] == 1.23
    assert contract["volumeOf24h"] == pytest.approx(1110 * contract["multiplier"])
    ticker = data(server.url, "/api/v1/ticker?symbol=ZZTESTUSDTM")
    assert ticker["price"] == "1.2545" and float(ticker["bestBidPrice"]) < float(ticker["bestAskPrice"])
    trades = data(server.url, "/api/v1/trade/history?symbol=ZZTESTUSDTM")
    by_minute: dict[int, int] = {}
    for trade in trades:
        minute = trade["ts"] // 1_000_000 // MINUTE_MS * MINUTE_MS
        by_minute[minute] = by_minute.get(minute, 0) + trade["size"]
    assert by_minute[START + 9 * MINUTE_MS] == 33 and START + 5 * MINUTE_MS not in by_minute  # the flat idle minute has none
    assert {float(t["price"]) for t in trades if t["ts"] // 1_000_000 // MINUTE_MS * MINUTE_MS == START + 7 * MINUTE_MS} <= {1.247}
    status = data(server.url, "/api/v1/timestamp")
    assert status == NOW


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol,open,high,low,close,volume\nX,1,1,1,1,1\n", r"line 1: missing column\(s\) open_time"),
        ("symbol,open_time,open,high,low,close,volume\nXUSDTM,1767225600000,1,2,0.5,1.5,3\nXUSDTM,1767225660000,1,abc,0.5,1,3\n",
         r"line 3: high='abc' is not a finite number"),
        ("symbol,open_time,open,high,low,close,volume\nXUSDTM,2026-01-01T00:00:30Z,1,2,0.5,1.5,3\n", "line 2: open_time=.* does not fall on a whole minute"),
        ("symbol,open_time,open,high,low,close,volume\nXUSDTM,yesterday,1,2,0.5,1.5,3\n", "line 2: open_time='yesterday' is neither ms"),
        ("symbol,open_time,open,high,low,close,volume\nXUSDTM,1767225600000,1,2,0.5,1.5,2.5\n", "line 2: volume='2.5' is not a whole number of lots"),
        ("symbol,open_time,open,high,low,close,volume\n,1767225600000,1,2,0.5,1.5,2\n", "line 2: symbol='' is empty"),
        ("", "line 1: the file is empty"),
    ],
)
def test_bad_files_name_the_file_the_line_and_the_rule(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ReplayError, match=f"{path}: .*{message}" if message.startswith("line") else message):
        load_replay(path)


def test_what_the_quality_gate_must_catch_passes_through(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("symbol,open_time,open,high,low,close,volume\nXUSDTM,1767225600000,1,0.5,2,1,3\nXUSDTM,1767225600000,1,0.5,2,1,3\n")
    bars = load_replay(path).series["XUSDTM"]
    assert list(bars.high) == [0.5, 0.5] and list(bars.low) == [2.0, 2.0]  # high < low, twice under one key


def test_a_bad_parquet_row_and_a_bad_path(tmp_path: Path) -> None:
    frame = candles().head(3)
    frame.loc[1, "close"] = float("nan")
    frame.to_parquet(tmp_path / "x.parquet", index=False)
    with pytest.raises(ReplayError, match=r"x.parquet: row 2: close=nan is not a finite number"):
        load_replay(tmp_path / "x.parquet")
    with pytest.raises(ConfigError, match="replay='/no/such/place': no such file or directory"):
        SimulatorConfig(replay=Path("/no/such/place"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="must be a .csv, .parquet, .pq file"):
        SimulatorConfig(replay=tmp_path / "notes.txt")


def test_a_child_process_with_a_bad_file_fails_at_startup_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("symbol,open_time,open,high,low,close,volume\nXUSDTM,1767225600000,1,2,0.5,oops,3\n")
    config = SimulatorConfig(n_contracts=10, now_ms=NOW, replay=path, rate_limit_public=50_000)
    process = SimulatorProcess(config)
    assert process.command()[-6:] == ["--rate-limit-unified", "200", "--rate-limit-unified-window-ms", "3000", "--replay", str(path)]
    with pytest.raises(RuntimeError, match=r"broken.csv: line 2: close='oops' is not a finite number"):
        process.__enter__()
