"""Reconciliation suites: sources that must agree, compared where both are known.

- Trade volume vs candle volume. The trades endpoint serves only the latest 100 trades, so a
  snapshot covers a run of the tape, not whole hours: within one load batch's trades of a symbol
  (the trades first seen by that snapshot, a contiguous run of the tape), only the minutes
  strictly between the first and the last trade's minute are known to be complete (the edge
  minutes may hold trades before or after the sample). For each such minute with a stored
  1-minute candle, and without a trade of that symbol refused at load in it, the sampled sizes
  must sum to the candle's volume exactly (both in whole lots; a float sum of whole numbers
  below 2^53 is exact). Minutes outside the coverage are not compared.
- Ticker last price vs candle close. A ticker's last price at observed_at (the exchange's time of
  the answer) must be the close of the last minute that had closed by then, when its last trade
  is in that minute. The ticker names its last trade; that trade's time is known when a trade
  snapshot holds it (looked up at traded_at <= observed_at, at most TRADE_LOOKBACK before the
  window). A ticker is compared when that trade's minute had closed by observed_at (its candle's
  close_time <= observed_at): the trade was then the last of its minute and no later minute up to
  observed_at has a trade, so its minute's close is both the trade's price and the close of the
  last minute that had closed. Tolerance: half a tick of the contract's latest spec (both are on
  the tick grid, so this only absorbs float representation). Not compared: tickers whose last
  trade is in the forming minute (the minute's close is not known yet) or is not sampled. The
  test's pandas reference applies the same conditions to the raw rows.
- Tickers vs contracts. A ticker of a symbol with no stored contract spec (no snapshot of
  stg_kucoin__contracts ever held it) cannot be compared within a tick, and it says the two
  sources disagree on the universe: the exchange quotes a contract the platform does not know.
  It fails the tickers suite, one finding per symbol with its ticker count and the reason
  "no contract spec for <symbol>".
- Contract count vs the exchange's list: the latest contracts snapshot stores (or quarantines
  with its rule) exactly as many contracts as ccxt returned (the batch's rows_in).
"""

from __future__ import annotations

from datetime import datetime

from quality.gate import SuiteSpec, sql_literal, unexpected_rows

TRADES_VS_CANDLES = "trades_vs_candles"
TICKERS_VS_CANDLES = "tickers_vs_candles"
CONTRACTS_VS_EXCHANGE = "contracts_vs_exchange"
TRADE_LOOKBACK = "1 day"  # how far back a ticker's last trade is looked up in the trade snapshots

_COVERED_MINUTES = """
with batch_runs as (
    select symbol, batch_id, date_trunc('minute', min(traded_at)) as first_minute, date_trunc('minute', max(traded_at)) as last_minute
    from {{batch}} as window_trades
    group by symbol, batch_id
),
covered_minutes as (
    select batch_runs.symbol, batch_runs.batch_id, minute
    from batch_runs
    cross join lateral generate_series(batch_runs.first_minute + interval '1 minute', batch_runs.last_minute - interval '1 minute', interval '1 minute') as minute
    where minute >= {start} and minute < {end}
),
sampled_volume as (
    select covered_minutes.symbol, covered_minutes.minute, covered_minutes.batch_id,
           coalesce((select sum(sampled.size_lots) from staging.stg_kucoin__trades sampled
                     where sampled.symbol = covered_minutes.symbol and sampled.batch_id = covered_minutes.batch_id
                       and sampled.traded_at >= covered_minutes.minute and sampled.traded_at < covered_minutes.minute + interval '1 minute'), 0) as trade_volume_lots
    from covered_minutes
    where not exists (select 1 from quarantine.trades refused
                      where refused.symbol = covered_minutes.symbol
                        and (refused.traded_at is null and refused.batch_id = covered_minutes.batch_id
                             or refused.traded_at >= covered_minutes.minute and refused.traded_at < covered_minutes.minute + interval '1 minute'))
)
select sampled_volume.symbol, sampled_volume.minute, sampled_volume.batch_id, sampled_volume.trade_volume_lots, candle.volume_lots as candle_volume_lots
from sampled_volume
join staging.stg_kucoin__candles_1m candle on candle.symbol = sampled_volume.symbol and candle.open_time = sampled_volume.minute
where sampled_volume.trade_volume_lots <> candle.volume_lots
"""

_TICKER_CLOSES = """
select window_tickers.symbol, window_tickers.observed_at, window_tickers.last_price, last_trade.traded_at,
       candle.close as candle_close, spec.tick_size
from {{batch}} as window_tickers
join staging.stg_kucoin__trades last_trade
  on last_trade.symbol = window_tickers.symbol and last_trade.trade_id = window_tickers.last_trade_id
 and last_trade.traded_at <= window_tickers.observed_at and last_trade.traded_at > {start} - interval '{lookback}'
join staging.stg_kucoin__candles_1m candle
  on candle.symbol = window_tickers.symbol and candle.open_time = date_trunc('minute', last_trade.traded_at)
cross join lateral (
    select tick_size from staging.stg_kucoin__contracts c where c.symbol = window_tickers.symbol order by snapshot_time desc limit 1
) as spec
where candle.close_time <= window_tickers.observed_at
  and abs(window_tickers.last_price - candle.close) > 0.5 * spec.tick_size
"""

# One row per symbol; its reason is recorded per row (orchestration.checks.gates.record_findings).
_TICKERS_WITHOUT_SPEC = """
select symbol, count(*) as tickers, min(observed_at) as first_observed_at, max(observed_at) as last_observed_at,
       'no contract spec for ' || symbol as reason
from {batch}
where symbol not in (select symbol from staging.stg_kucoin__contracts)  -- a key column: never null
group by symbol
"""

_CONTRACT_COUNT = """
select latest.batch_id, latest.rows_in as served, counts.stored, counts.quarantined
from {batch} as latest
cross join lateral (
    select (select count(*) from raw.contracts stored
            where stored.snapshot_time = latest.window_start and stored.batch_id = latest.batch_id) as stored,
           (select count(*) from quarantine.contracts refused where refused.batch_id = latest.batch_id) as quarantined
) as counts
where latest.rows_in <> counts.stored + counts.quarantined
"""


def trades_vs_candles(start: datetime, end: datetime) -> SuiteSpec:
    s, e = sql_literal(start), sql_literal(end)
    return SuiteSpec(
        TRADES_VS_CANDLES,
        f"select symbol, trade_id, traded_at, size_lots, batch_id from staging.stg_kucoin__trades where traded_at >= {s} and traded_at < {e}",
        [unexpected_rows("trade_volume_is_candle_volume",
                         "In every minute a trade snapshot covers completely, the sampled trade sizes sum to the candle's volume.",
                         _COVERED_MINUTES.format(start=s, end=e))],
    )


def tickers_vs_candles(start: datetime, end: datetime) -> SuiteSpec:
    s, e = sql_literal(start), sql_literal(end)
    return SuiteSpec(
        TICKERS_VS_CANDLES,
        f"select symbol, observed_at, last_price, last_trade_id from staging.stg_kucoin__tickers where observed_at >= {s} and observed_at < {e}",
        [unexpected_rows("ticker_last_is_candle_close",
                         "A ticker whose last trade's minute had ended shows that minute's close, within half a tick.",
                         _TICKER_CLOSES.format(start=s, lookback=TRADE_LOOKBACK)),
         unexpected_rows("ticker_has_contract_spec",
                         "Every ticker's symbol has a stored contract spec (the exchange quotes only contracts it lists).",
                         _TICKERS_WITHOUT_SPEC)],
    )


def contracts_vs_exchange() -> SuiteSpec:
    return SuiteSpec(
        CONTRACTS_VS_EXCHANGE,
        "select batch_id, window_start, rows_in from raw.load_batches where batch_id = (select max(batch_id) from raw.load_batches "
        "where asset = 'kucoin_contracts' and status = 'succeeded')",
        [unexpected_rows("every_served_contract_accounted_for",
                         "The latest contracts snapshot stores or quarantines exactly the contracts the exchange returned.",
                         _CONTRACT_COUNT)],
    )
