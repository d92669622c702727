{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[window_delete_predicate("bucket_start")],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
-- 15-minute bars of each contract from its 5-minute bars (UTC buckets; no candle, no bar).
-- Open = the first bar's open, close = the last bar's close, high/low = the extremes, volumes,
-- turnover and minute counts = exact numeric sums, batch_ids = the union (macros/rollups.sql).
{{ rollup_candles(ref("int_candles_5m"), "15 minutes") }}
