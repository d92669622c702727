"""Raw-layer assets: contracts snapshots and 1-minute candles from KuCoin futures via ccxt."""

import asyncio

import dagster as dg

from orchestration.ingestion import candles, contracts
from orchestration.ingestion.batches import LoadCounts
from orchestration.partitions import hourly
from orchestration.resources.database import PostgresResource
from orchestration.resources.exchange import KucoinFuturesResource
from orchestration.resources.ingestion import IngestionPolicy

OWNERS = ["team:market-data"]
# A second line of defence behind the per-request retries in the exchange client: the whole
# step is retried when the exchange stays unavailable for longer than those allow.
EXCHANGE_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@dg.asset(
    key=["raw", "kucoin_contracts"],
    group_name="raw",
    owners=OWNERS,
    kinds={"postgres", "python"},
    retry_policy=EXCHANGE_RETRY,
    description="Snapshot of every KuCoin futures contract (specs, status, 24h statistics) into raw.contracts.",
)
def kucoin_contracts(context: dg.AssetExecutionContext, database: PostgresResource, exchange: KucoinFuturesResource) -> dg.MaterializeResult:
    result = asyncio.run(contracts.ingest_contracts(database.url, exchange, context.run.run_id))
    return dg.MaterializeResult(metadata=_batch_metadata([result.batch_id], result.counts, result.request_count, exchange.source))


@dg.asset(
    key=["raw", "kucoin_candles_1m"],
    deps=[kucoin_contracts],
    partitions_def=hourly,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="raw",
    owners=OWNERS,
    kinds={"postgres", "python"},
    retry_policy=EXCHANGE_RETRY,
    description=(
        "Closed 1-minute candles of the followed contracts into raw.candles_1m (daily PostgreSQL partitions), "
        "one transaction and one raw.load_batches row per chunk of whole hours."
    ),
)
def kucoin_candles_1m(
    context: dg.AssetExecutionContext, database: PostgresResource, exchange: KucoinFuturesResource, ingestion: IngestionPolicy
) -> dg.MaterializeResult:
    window = context.partition_time_window
    instruments = candles.select_universe(database.url, window.start, window.end, ingestion.max_symbols)
    if not instruments:
        raise dg.Failure(
            f"no open contract is known for {window.start:%Y-%m-%d %H:%M}..{window.end:%Y-%m-%d %H:%M} UTC: "
            "materialize raw/kucoin_contracts first"
        )
    context.log.info(f"fetching {len(instruments)} symbols for {window.start} .. {window.end}")
    results = asyncio.run(
        candles.ingest_candles(database.url, exchange, instruments, window.start, window.end, context.run.run_id, ingestion.chunk_hours)
    )
    counts = sum((r.counts for r in results), LoadCounts(0, 0, 0, 0))
    metadata = _batch_metadata([r.batch_id for r in results], counts, sum(r.request_count for r in results), exchange.source)
    metadata["symbols"] = dg.MetadataValue.int(len(instruments))
    metadata["checksums"] = dg.MetadataValue.text(", ".join(r.checksum for r in results))
    return dg.MaterializeResult(metadata=metadata)


def _batch_metadata(batch_ids: list[int], counts: LoadCounts, requests: int, source: str) -> dict[str, dg.MetadataValue]:
    return {
        "batch_ids": dg.MetadataValue.text(", ".join(map(str, batch_ids))),
        "source": dg.MetadataValue.text(source),
        "requests": dg.MetadataValue.int(requests),
        "rows_fetched": dg.MetadataValue.int(counts.rows_in),
        "rows_inserted": dg.MetadataValue.int(counts.inserted),
        "rows_unchanged": dg.MetadataValue.int(counts.unchanged),
        "rows_quarantined": dg.MetadataValue.int(counts.quarantined),
    }
