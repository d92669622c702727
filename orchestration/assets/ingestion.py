"""Raw-layer assets: KuCoin futures public market data via ccxt, into raw.*.

Now-only data (contracts, tickers, order books, recent trades) are snapshot assets on schedules;
history-bearing data are time-partitioned (1m candles and open interest by the hour, funding
rates by the day). Every asset that calls the exchange runs in the ``kucoin_public`` concurrency
pool, so runs never spend the exchange's request-weight budget twice at the same time.
"""

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import dagster as dg

from orchestration.ingestion import candles, contracts, funding, open_interest, order_books, tickers, trades
from orchestration.ingestion.batches import LoadCounts
from orchestration.ingestion.per_symbol import SymbolsRefused, report_failures
from orchestration.ingestion.runner import BatchResult
from orchestration.ingestion.universe import Instrument, select_universe
from orchestration.partitions import daily, hourly
from orchestration.presentation.asset_metadata import candles_metadata
from orchestration.resources.database import PostgresResource
from orchestration.resources.exchange import ExchangeRequestError, KucoinFuturesResource
from orchestration.resources.ingestion import IngestionPolicy

T = TypeVar("T")
OWNERS = ["team:market-data"]
EXCHANGE_POOL = "kucoin_public"
KINDS = {"postgres", "python"}
# Behind the client's per-request retries: the whole step is tried again when the exchange stays
# unavailable or rate-limited for longer (RateLimitExceeded, ExchangeNotAvailable, RequestTimeout,
# NetworkError), or symbols are left to fetch. A refusal is a dg.Failure that is not retried.
EXCHANGE_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
_exchange_asset = dict(group_name="raw", owners=OWNERS, kinds=KINDS, pool=EXCHANGE_POOL, retry_policy=EXCHANGE_RETRY)


class SymbolsConfig(dg.Config):
    """Restrict a run to these followed contracts (default: all of them); sensors use it to
    fetch a new listing's history or re-fetch a symbol's missing minutes."""

    symbols: list[str] = []


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except ExchangeRequestError as error:
        if not error.transient:  # the exchange refused: the same request would be refused again
            raise dg.Failure(description=str(error), allow_retries=False) from error
        raise


@dg.asset(key=["raw", "kucoin_contracts"], description="Snapshot of every KuCoin futures contract (specs, status, 24h statistics) into raw.contracts.", **_exchange_asset)
def kucoin_contracts(context: dg.AssetExecutionContext, database: PostgresResource, exchange: KucoinFuturesResource) -> dg.MaterializeResult:
    result = _run(contracts.ingest_contracts(database.url, exchange, context.run.run_id))
    return dg.MaterializeResult(metadata=_metadata([result], exchange))


@dg.asset(
    key=["raw", "kucoin_candles_1m"],
    deps=[kucoin_contracts],
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Closed 1-minute candles of the followed contracts into raw.candles_1m (daily PostgreSQL partitions), "
        "one transaction and one raw.load_batches row per chunk of whole hours; a symbol is loaded whole or not at all."
    ),
    **_exchange_asset,
)
def kucoin_candles_1m(
    context: dg.AssetExecutionContext, config: SymbolsConfig, database: PostgresResource, exchange: KucoinFuturesResource,
    ingestion: IngestionPolicy,
) -> dg.MaterializeResult:
    window = context.partition_time_window
    instruments = _restrict(_followed(database, ingestion, window.start, window.end), config)
    context.log.info(f"fetching candles of {len(instruments)} symbols for {window.start} .. {window.end}")
    results = _run(candles.ingest_candles(database.url, exchange, instruments, window.start, window.end, context.run.run_id, ingestion.chunk_hours))
    return _result(context, results, exchange, instruments, candles_metadata(database.url, window.start, window.end))


@dg.asset(
    key=["raw", "kucoin_open_interest"],
    deps=[kucoin_contracts],
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Open interest of the followed contracts, 5-minute points from the unified API, into raw.open_interest.",
    **_exchange_asset,
)
def kucoin_open_interest(
    context: dg.AssetExecutionContext, config: SymbolsConfig, database: PostgresResource, exchange: KucoinFuturesResource,
    ingestion: IngestionPolicy,
) -> dg.MaterializeResult:
    window = context.partition_time_window
    instruments = _restrict(_followed(database, ingestion, window.start, window.end), config)
    results = _run(open_interest.ingest_open_interest(database.url, exchange, instruments, window.start, window.end, context.run.run_id, ingestion.chunk_hours))
    return _result(context, results, exchange, instruments)


@dg.asset(
    key=["raw", "kucoin_funding_rates"],
    deps=[kucoin_contracts],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Funding rates settled by the followed perpetuals each day (every 8 h, 4 h or 1 h), into raw.funding_rates.",
    **_exchange_asset,
)
def kucoin_funding_rates(
    context: dg.AssetExecutionContext, database: PostgresResource, exchange: KucoinFuturesResource, ingestion: IngestionPolicy
) -> dg.MaterializeResult:
    window = context.partition_time_window
    instruments = _followed(database, ingestion, window.start, window.end)
    results = _run(funding.ingest_funding_rates(database.url, exchange, instruments, window.start, window.end, context.run.run_id))
    return _result(context, results, exchange, instruments)


@dg.asset(key=["raw", "kucoin_tickers"], deps=[kucoin_contracts], description="Ticker snapshot (last trade, best bid/ask) of every listed contract into raw.tickers.", **_exchange_asset)
def kucoin_tickers(context: dg.AssetExecutionContext, database: PostgresResource, exchange: KucoinFuturesResource) -> dg.MaterializeResult:
    result = _run(tickers.ingest_tickers(database.url, exchange, context.run.run_id))
    return dg.MaterializeResult(metadata=_metadata([result], exchange))


@dg.asset(
    key=["raw", "kucoin_order_books"],
    deps=[kucoin_contracts],
    description="Order-book snapshot (depth levels a side) of the followed contracts into raw.order_book_levels.",
    **_exchange_asset,
)
def kucoin_order_books(
    context: dg.AssetExecutionContext, database: PostgresResource, exchange: KucoinFuturesResource, ingestion: IngestionPolicy
) -> dg.MaterializeResult:
    instruments = _followed_now(database, ingestion)
    result = _run(order_books.ingest_order_books(database.url, exchange, instruments, ingestion.book_depth, context.run.run_id))
    return _result(context, [result] if result else [], exchange, instruments)


@dg.asset(
    key=["raw", "kucoin_trades"],
    deps=[kucoin_contracts],
    description="The last public trades of the followed contracts into raw.trades, deduplicated by trade id.",
    **_exchange_asset,
)
def kucoin_trades(
    context: dg.AssetExecutionContext, database: PostgresResource, exchange: KucoinFuturesResource, ingestion: IngestionPolicy
) -> dg.MaterializeResult:
    instruments = _followed_now(database, ingestion)
    result = _run(trades.ingest_trades(database.url, exchange, instruments, context.run.run_id))
    return _result(context, [result] if result else [], exchange, instruments)


def _followed(database: PostgresResource, ingestion: IngestionPolicy, start: datetime, end: datetime) -> list[Instrument]:
    instruments = select_universe(database.url, start, end, ingestion.max_symbols)
    if not instruments:
        raise dg.Failure(
            f"no open contract is known for {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M} UTC: run the contracts_snapshot job "
            "(asset raw/kucoin_contracts) first",
            allow_retries=False,
        )
    return instruments


def _restrict(instruments: list[Instrument], config: SymbolsConfig) -> list[Instrument]:
    if not config.symbols:
        return instruments
    unknown = sorted(set(config.symbols) - {i.symbol for i in instruments})
    if unknown:
        raise dg.Failure(
            f"run config symbols {', '.join(repr(s)[:50] for s in unknown)}: not among the contracts followed in this window "
            "(listed, trading, within ZMART_MAX_SYMBOLS of the latest contracts snapshot)",
            allow_retries=False,
        )
    return [i for i in instruments if i.symbol in set(config.symbols)]


def _followed_now(database: PostgresResource, ingestion: IngestionPolicy) -> list[Instrument]:
    now = datetime.now(UTC)
    return _followed(database, ingestion, now, now + timedelta(minutes=1))


def _result(
    context: dg.AssetExecutionContext, results: Sequence[BatchResult], exchange: KucoinFuturesResource, instruments: Sequence[Instrument],
    extra: Mapping[str, dg.MetadataValue] | None = None,
) -> dg.MaterializeResult:
    try:
        failed = report_failures(results, len(instruments))  # raises (and the step is retried) while a failure may clear
    except SymbolsRefused as refused:
        raise dg.Failure(description=str(refused), allow_retries=False) from refused
    metadata = _metadata(results, exchange)
    metadata["symbols"] = dg.MetadataValue.int(len(instruments))
    metadata["symbols_failed"] = dg.MetadataValue.int(len(failed))
    if failed:
        context.log.warning("symbols refused by the exchange (not retried): " + "; ".join(f"{s.symbol}: {s.error}" for s in failed))
        metadata["symbols_refused"] = dg.MetadataValue.text(", ".join(s.symbol for s in failed))
    return dg.MaterializeResult(metadata={**metadata, **(extra or {})})


def _metadata(results: Sequence[BatchResult], exchange: KucoinFuturesResource) -> dict[str, dg.MetadataValue]:
    counts = sum((r.counts for r in results), LoadCounts(0, 0, 0, 0))
    return {
        "batch_ids": dg.MetadataValue.text(", ".join(str(r.batch_id) for r in results) or "none (nothing left to fetch)"),
        "source": dg.MetadataValue.text(exchange.source),
        "requests": dg.MetadataValue.int(sum(r.request_count for r in results)),
        "rows_fetched": dg.MetadataValue.int(counts.rows_in),
        "rows_inserted": dg.MetadataValue.int(counts.inserted),
        "rows_unchanged": dg.MetadataValue.int(counts.unchanged),
        "rows_quarantined": dg.MetadataValue.int(counts.quarantined),
        "checksums": dg.MetadataValue.text(", ".join(r.checksum for r in results)),
    }
