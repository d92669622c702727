"""How each raw table is loaded: its columns, natural key, time partitioning and quarantine table."""

from __future__ import annotations

from dataclasses import dataclass

from models import candles, contracts, funding, open_interest, order_books, signals, tickers, trades


@dataclass(frozen=True)
class RawTable:
    schema: str
    name: str
    columns: tuple[str, ...]  # data columns in load order; batch_id is added by the loader
    key: tuple[str, ...]  # natural key (the primary key)
    time_column: str  # the partition key column (the key time of an unpartitioned table)
    partition_step: str | None  # a PostgreSQL interval: '1 day', '1 month'; None: not partitioned
    quarantine_time_column: str | None  # key time kept in the quarantine table, when it has one
    json_columns: tuple[str, ...] = ()
    # Where a row was read (file, line): stored, and kept in quarantine, but not content: a row
    # read again from elsewhere with the same values is unchanged, not a conflict.
    provenance_columns: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.key and c not in self.provenance_columns)


CANDLES_1M = RawTable(
    schema="raw",
    name="candles_1m",
    columns=candles.COLUMNS,
    key=("symbol", "open_time"),
    time_column="open_time",
    partition_step="1 day",
    quarantine_time_column="open_time",
)

CONTRACTS = RawTable(
    schema="raw",
    name="contracts",
    columns=contracts.COLUMNS,
    key=("symbol", "snapshot_time"),
    time_column="snapshot_time",
    partition_step="1 month",
    quarantine_time_column=None,
    json_columns=("payload",),
)

TICKERS = RawTable(
    schema="raw",
    name="tickers",
    columns=tickers.COLUMNS,
    key=("symbol", "observed_at", "sequence"),
    time_column="observed_at",
    partition_step="1 day",
    quarantine_time_column="observed_at",
)

ORDER_BOOK_LEVELS = RawTable(
    schema="raw",
    name="order_book_levels",
    columns=order_books.COLUMNS,
    key=("symbol", "observed_at", "sequence", "side", "level"),
    time_column="observed_at",
    partition_step="1 day",
    quarantine_time_column="observed_at",
)

TRADES = RawTable(
    schema="raw",
    name="trades",
    columns=trades.COLUMNS,
    key=("symbol", "trade_id", "traded_at"),
    time_column="traded_at",
    partition_step="1 day",
    quarantine_time_column="traded_at",
)

FUNDING_RATES = RawTable(
    schema="raw",
    name="funding_rates",
    columns=funding.COLUMNS,
    key=("symbol", "funding_time"),
    time_column="funding_time",
    partition_step="1 month",
    quarantine_time_column="funding_time",
)

OPEN_INTEREST = RawTable(
    schema="raw",
    name="open_interest",
    columns=open_interest.COLUMNS,
    key=("symbol", "observed_at"),
    time_column="observed_at",
    partition_step="1 day",
    quarantine_time_column="observed_at",
)

SIGNALS = RawTable(
    schema="raw",
    name="signals",
    columns=signals.COLUMNS,
    key=("source", "external_id"),
    time_column="published_at",
    partition_step=None,  # thousands of rows a day: one table, indexed on (symbol, published_at)
    quarantine_time_column="published_at",
    provenance_columns=signals.PROVENANCE_COLUMNS,
)

# Every range-partitioned raw table (the quarantine tables are not partitioned).
PARTITIONED_TABLES = (CANDLES_1M, CONTRACTS, TICKERS, ORDER_BOOK_LEVELS, TRADES, FUNDING_RATES, OPEN_INTEREST)
