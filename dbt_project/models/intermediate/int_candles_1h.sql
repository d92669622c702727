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
-- Hourly bars of each contract from its 15-minute bars (UTC hours; an hour without any candle has
-- no bar: gaps stay gaps). The bars the indicators (int_indicators_1h_*) and scores run on.
-- Open = the first bar's open, close = the last bar's close, high/low = the extremes, volumes,
-- turnover and minute counts = exact numeric sums, batch_ids = the union (macros/rollups.sql).
{{ rollup_candles(ref("int_candles_15m"), "1 hour") }}
