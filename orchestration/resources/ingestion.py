"""Ingestion policy: which instruments to follow and how big one load batch is."""

import dagster as dg


class IngestionPolicy(dg.ConfigurableResource):
    """``max_symbols`` caps the followed universe to the most traded contracts (0 = every contract)."""

    max_symbols: int = 0
    chunk_hours: int = 24  # hours per batch: one transaction, one ledger row
    book_depth: int = 20  # levels a side of each order-book snapshot (KuCoin serves 20 or 100)
