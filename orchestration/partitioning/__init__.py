"""The raw partitions' lifecycle: created ahead, hot and warm index tiers, the Parquet cold tier."""
