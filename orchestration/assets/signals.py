"""The signals asset: one signal file (its path in the run config) into raw.signals."""

from pathlib import Path

import dagster as dg

from models.signals import SignalFileError
from orchestration.ingestion.signals import import_signal_file
from orchestration.resources.database import PostgresResource


class SignalFileConfig(dg.Config):
    """The file to import (set by the drop-folder sensor)."""

    path: str


@dg.asset(
    key=["raw", "signals"],
    group_name="raw",
    owners=["team:market-data"],
    kinds={"postgres", "python"},
    description=(
        "Signals (technical alerts, news, social posts, on-chain notes) from one JSONL/CSV file into raw.signals, "
        "one raw.load_batches row per file; refused rows to quarantine.signals with file, line and rule; "
        "VADER sentiment of the texts into raw.signal_sentiment. Re-importing a file changes nothing."
    ),
)
def signals_file(context: dg.AssetExecutionContext, config: SignalFileConfig, database: PostgresResource) -> dg.MaterializeResult:
    try:
        result = import_signal_file(database.url, Path(config.path), context.run.run_id)
    except SignalFileError as error:  # the same file would be refused again: no retry
        raise dg.Failure(description=str(error), allow_retries=False) from error
    c = result.counts
    return dg.MaterializeResult(
        metadata={
            "file": dg.MetadataValue.path(str(result.file.path)),
            "sha256": dg.MetadataValue.text(result.file.sha256),
            "batch_id": dg.MetadataValue.int(result.batch_id),
            "already_loaded": dg.MetadataValue.bool(result.already_loaded),
            "rows_in": dg.MetadataValue.int(c.rows_in),
            "rows_inserted": dg.MetadataValue.int(c.inserted),
            "rows_unchanged": dg.MetadataValue.int(c.unchanged),
            "rows_quarantined": dg.MetadataValue.int(c.quarantined),
        }
    )
