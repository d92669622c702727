{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[bucket_delete_predicate("bucket_start", 14400)],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
-- 4-hour bars of each contract from its 1h bars (UTC blocks from midnight; no candle, no bar).
-- An hourly window rebuilds the whole block it falls in, from all its 1h bars.
-- Open = the first bar's open, close = the last bar's close, high/low = the extremes, volumes,
-- turnover and minute counts = exact numeric sums, batch_ids = the union (macros/rollups.sql).
{{ rollup_candles(ref("int_candles_1h"), "4 hours") }}
