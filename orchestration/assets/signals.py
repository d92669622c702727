"""The signals asset: one signal file (its path in the run config) into raw.signals."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from models.signals import SignalFileError
from orchestration.ingestion.signals import import_signal_file
from orchestration.resources.database import PostgresResource


class SignalFileConfig(dg.Config):
    """The file to import (set by the drop-folder sensor)."""

    path: str


@dg.multi_asset(
    name="signals_file",
    group_name="raw",
    specs=[
        dg.AssetSpec(
            key=["raw", "signals"],
            owners=["team:market-data"],
            kinds={"postgres", "python"},
            description=(
                "Signals (technical alerts, news, social posts, on-chain notes) from one JSONL/CSV file into raw.signals, "
                "one raw.load_batches row per file; refused rows to quarantine.signals with file, line and rule. "
                "Re-importing a file changes nothing."
            ),
        ),
        dg.AssetSpec(
            key=["raw", "signal_sentiment"],
            owners=["team:market-data"],
            kinds={"postgres", "python"},
            description="VADER scores (model vaderSentiment and its version) of the texts each import inserted into raw.signals.",
        ),
    ],
)
def signals_file(context: dg.AssetExecutionContext, config: SignalFileConfig, database: PostgresResource) -> Iterator[dg.MaterializeResult]:
    try:
        result = import_signal_file(database.url, Path(config.path), context.run.run_id)
    except SignalFileError as error:  # the same file would be refused again: no retry
        raise dg.Failure(description=str(error), allow_retries=False) from error
    c = result.counts
    batch = {
        "file": dg.MetadataValue.path(str(result.file.path)),
        "sha256": dg.MetadataValue.text(result.file.sha256),
        "batch_id": dg.MetadataValue.int(result.batch_id),
        "already_loaded": dg.MetadataValue.bool(result.already_loaded),
    }
    yield dg.MaterializeResult(
        asset_key=["raw", "signals"],
        metadata={
            **batch,
            "rows_in": dg.MetadataValue.int(c.rows_in),
            "rows_inserted": dg.MetadataValue.int(c.inserted),
            "rows_unchanged": dg.MetadataValue.int(c.unchanged),
            "rows_quarantined": dg.MetadataValue.int(c.quarantined),
        },
    )
    yield dg.MaterializeResult(asset_key=["raw", "signal_sentiment"], metadata=batch)
