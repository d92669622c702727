"""What the sensors look for in the warehouse: new listings, minutes missing from attempted hours,
and where failed runs are recorded."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from orchestration.ingestion.universe import select_universe
from orchestration.ingestion.windows import HOUR, listed_span

CANDLES_ASSET = "kucoin_candles_1m"


@dataclass(frozen=True)
class Listing:
    snapshot_time: datetime  # the first snapshot the contracts appear in
    symbols: tuple[str, ...]
    listed_from: datetime  # the earliest listing time among them


def new_listings(url: str, after: datetime | None, max_symbols: int) -> list[Listing]:
    """Contracts that appear in a snapshot taken after ``after`` and were not in the snapshot
    before it, restricted to the contracts the pipeline follows. The very first snapshot lists
    nothing new: loading history at the start is a backfill, not a listing."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            with snapshots as (
                select snapshot_time, lag(snapshot_time) over (order by snapshot_time) as previous_time
                from (select distinct snapshot_time from raw.contracts) as times
            )
            select s.snapshot_time, c.symbol, coalesce(c.first_open_time, s.snapshot_time)
            from snapshots s
            join raw.contracts c on c.snapshot_time = s.snapshot_time and c.status = 'Open'
            where s.previous_time is not null
              and (%(after)s::timestamptz is null or s.snapshot_time > %(after)s)
              and not exists (
                  select 1 from raw.contracts p where p.snapshot_time = s.previous_time and p.symbol = c.symbol
              )
            order by s.snapshot_time, c.symbol
            """,
            {"after": after},
        ).fetchall()
    if not rows:
        return []
    latest = max(r[0] for r in rows)
    followed = {i.symbol for i in select_universe(url, latest, latest + HOUR, max_symbols)}
    grouped: dict[datetime, list[tuple[str, datetime]]] = defaultdict(list)
    for snapshot_time, symbol, listed in rows:
        if symbol in followed:
            grouped[snapshot_time].append((symbol, listed))
    return [
        Listing(snapshot_time, tuple(s for s, _ in items), min(listed for _, listed in items))
        for snapshot_time, items in sorted(grouped.items())
    ]


def latest_snapshot_time(url: str) -> datetime | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("select max(snapshot_time) from raw.contracts").fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class CandleGap:
    hour: datetime
    symbol: str
    expected_minutes: int
    stored_minutes: int


def candle_gaps(url: str, start: datetime, end: datetime, max_symbols: int) -> list[CandleGap]:
    """Followed symbols with fewer stored minutes than they traded, in the hours of [start, end)
    that a candle load already covered (hours never attempted are the schedule's, not a gap)."""
    instruments = select_universe(url, start, end, max_symbols)
    with psycopg.connect(url) as conn:
        attempted = {
            row[0]
            for row in conn.execute(
                """
                select hours.hour_start
                from generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour', interval '1 hour') as hours(hour_start)
                where exists (
                    select 1 from raw.load_batches b
                    where b.asset = %(asset)s and b.window_start <= hours.hour_start
                      and b.window_end >= hours.hour_start + interval '1 hour'
                )
                """,
                {"start": start, "end": end, "asset": CANDLES_ASSET},
            )
        }
        stored = {
            (symbol, hour): count
            for symbol, hour, count in conn.execute(
                """
                select symbol, date_bin(interval '1 hour', open_time, timestamptz '2000-01-01'), count(*)
                from raw.candles_1m
                where open_time >= %(start)s and open_time < %(end)s and symbol = any(%(symbols)s)
                group by 1, 2
                """,
                {"start": start, "end": end, "symbols": [i.symbol for i in instruments]},
            )
        }
    gaps = []
    for hour in sorted(attempted):
        for instrument in instruments:
            span = listed_span(instrument, hour, hour + HOUR)
            if span is None:
                continue
            expected = int((span[1] - span[0]) / timedelta(minutes=1))
            have = stored.get((instrument.symbol, hour), 0)
            if have < expected:
                gaps.append(CandleGap(hour, instrument.symbol, expected, have))
    return gaps


def record_run_failure(
    url: str, run_id: str, job_name: str, partition_range: str | None, failed_steps: list[str], message: str, failed_at: datetime
) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            insert into meta.run_failures (run_id, job_name, partition_range, failed_steps, message, failed_at)
            values (%s, %s, %s, %s, %s, %s)
            on conflict (run_id) do nothing
            """,
            (run_id, job_name, partition_range, failed_steps, message[:4000], failed_at),
        )
