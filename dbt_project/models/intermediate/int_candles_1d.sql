{{
    config(
        materialized="incremental",
        incremental_strategy="window_delete_insert",
        unique_key=["symbol", "bucket_start"],
        incremental_predicates=[bucket_delete_predicate("bucket_start", 86400)],
        on_schema_change="fail",
        indexes=[
            {"columns": ["symbol", "bucket_start"], "unique": true},
            {"columns": ["bucket_start"]},
        ],
    )
}}
-- Daily bars of each contract from its 4h bars (UTC days; no candle, no bar). An hourly window
-- rebuilds the whole day it falls in, from all its 4h bars.
-- Open = the first bar's open, close = the last bar's close, high/low = the extremes, volumes,
-- turnover and minute counts = exact numeric sums, batch_ids = the union (macros/rollups.sql).
{{ rollup_candles(ref("int_candles_4h"), "1 day") }}
