"""GX suites of the derived layers, one list per layer, each suite on the rows of one relation in
the partition window (bounded work whatever the history length).

| layer        | relation                          | expectations                                                    |
|--------------|-----------------------------------|-----------------------------------------------------------------|
| staging      | stg_kucoin__candles_1m            | key unique and present, OHLC consistent, volume >= 0            |
| staging      | stg_kucoin__open_interest         | key unique and present, open interest >= 0                      |
| staging      | stg_kucoin__contracts (window)    | key unique and present, tick and lot sizes > 0                  |
| staging      | stg_signals__signals              | key unique and present, confidence in [0, 1], received >= published |
| intermediate | int_candles_{5m,15m,1h,4h,1d}     | key, OHLC consistent, 1 <= minute_count <= bucket minutes, and the rollup of the 1-minute candles exactly (reconciliation) |
| intermediate | int_returns_1h                    | key, simple_return_1 > -1 and log_return_1 = ln(1 + simple_return_1) |
| intermediate | int_indicators_1h_momentum        | key, RSI and stochastics in [0, 100]                            |
| intermediate | int_indicators_1h_volatility      | key, ATR >= 0, Bollinger upper >= middle >= lower               |
| intermediate | int_score_components_1h           | key, score_time = bucket_start + 1 h, confidences in [0, 1], trend and sentiment in [-1, 1] |
| intermediate | int_signal_sentiment_1h           | key, sentiment in [-1, 1], confidence in [0, 1)                 |
| intermediate | int_market_regime_1h              | key, a known regime, volatility percentile in [0, 1]            |
| intermediate | int_agent_evaluations_1h          | key, a known agent and recommendation, score in [-1, 1], confidence in [0, 1] |
| intermediate | int_agent_consensus_1h            | key, a known recommendation, consensus score in [-1, 1], confidence in [0, 1] |
| intermediate | int_correlation_clusters_1d       | key, cluster_size >= 1, cluster_id = the component's smallest symbol (<= symbol) |
| marts        | fct_symbol_scores                 | key, composite and component scores in [0, 1], composite confidence in [0, 1], score_time = bucket_start + 1 h, an eligible row is scored, composite confidence = the seed-weighted sum of the present components' confidences and composite = the seed-weighted mean of the component scores (1e-9), ranked_universe_size = the eligible rows of its version and score_time |
| marts        | dim_symbols                       | symbol unique and present, tick size > 0                        |
| marts        | fct_agent_performance             | key, a known agent, hit rate in [0, 1], IC in [-1, 1]           |

Each suite restates the model's own ranges and keys (its YAML has the dbt tests): the gate is
what holds the next layer back, and it records the offending rows in quarantine.gate_findings.
A row a dbt test rejects already fails the layer's dbt build (and with it every later layer)
before the gate runs; some expectations check what no dbt test does, e.g. int_returns_1h's
log_return_1 = ln(1 + simple_return_1), fct_symbol_scores' composite confidence and composite
against the seeds' weights and its universe size against the eligible rows
(tests/integration/pipeline/test_layer_gates.py plants rows against the log return and the
composite confidence: the latter is defined for every row, eligible or not).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import great_expectations as gx
from great_expectations.expectations import Expectation

from quality.gate import SuiteSpec, sql_literal, unexpected_rows
from quality.suites.common import key_expectations, ohlc_expectations

BAR_KEY = ("symbol", "bucket_start")
# origin of date_bin in macros/rollups.sql (bucket_of): UTC midnight, so 4 h and 1 d buckets align on UTC days
_BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
AGENTS = ("technical", "market_structure", "risk", "sentiment")
RECOMMENDATIONS = ("buy", "hold", "sell", "abstain")
SCORE_COMPONENTS = ("trend", "momentum", "risk", "liquidity", "sentiment")  # fct_symbol_scores' <component>_score columns
ROLLUPS = {"int_candles_5m": timedelta(minutes=5), "int_candles_15m": timedelta(minutes=15), "int_candles_1h": timedelta(hours=1),
           "int_candles_4h": timedelta(hours=4), "int_candles_1d": timedelta(days=1)}


def staging(start: datetime, end: datetime) -> list[SuiteSpec]:
    s, e = sql_literal(start), sql_literal(end)
    expect = gx.expectations
    candle_key = ("symbol", "open_time")
    return [
        SuiteSpec(
            "stg_kucoin__candles_1m",
            f"select * from staging.stg_kucoin__candles_1m where open_time >= {s} and open_time < {e}",
            [*key_expectations(candle_key), *ohlc_expectations("volume_lots")],
            candle_key,
        ),
        SuiteSpec(
            "stg_kucoin__open_interest",
            f"select * from staging.stg_kucoin__open_interest where observed_at >= {s} and observed_at < {e}",
            [*key_expectations(("symbol", "observed_at")),
             expect.ExpectColumnValuesToBeBetween(column="open_interest_lots", min_value=0, meta={"rule": "open_interest_non_negative"})],
            ("symbol", "observed_at"),
        ),
        SuiteSpec(
            "stg_kucoin__contracts",
            # the snapshots in force in the window: the latest one at its start and those taken during it
            f"select * from staging.stg_kucoin__contracts where snapshot_time < {e} and snapshot_time >= coalesce("
            f"(select max(snapshot_time) from staging.stg_kucoin__contracts where snapshot_time <= {s}), {s})",
            [*key_expectations(("snapshot_time", "symbol")),
             *(expect.ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True, meta={"rule": f"{c}_positive"})
               for c in ("tick_size", "lot_size"))],
            ("snapshot_time", "symbol"),
        ),
        SuiteSpec(
            "stg_signals__signals",
            f"select * from staging.stg_signals__signals where received_at >= {s} and received_at < {e}",
            [*key_expectations(("source", "external_id")),
             _between("confidence", 0, 1),
             expect.ExpectColumnPairValuesAToBeGreaterThanB(column_A="received_at", column_B="published_at", or_equal=True,
                                                            meta={"rule": "received_at_gte_published_at"})],
            ("source", "external_id"),
        ),
    ]


def intermediate(start: datetime, end: datetime) -> list[SuiteSpec]:
    s, e = sql_literal(start), sql_literal(end)
    expect = gx.expectations
    in_window = f"bucket_start >= {s} and bucket_start < {e}"
    percent = ("rsi_14", "stoch_slowk", "stoch_slowd")
    return [
        *(_rollup_suite(name, width, start, end) for name, width in ROLLUPS.items()),
        SuiteSpec(
            "int_returns_1h",
            f"select * from intermediate.int_returns_1h where {in_window}",
            [
                *key_expectations(BAR_KEY),
                expect.ExpectColumnValuesToBeBetween(column="simple_return_1", min_value=-1, strict_min=True, meta={"rule": "simple_return_above_minus_one"}),
                unexpected_rows(
                    "log_return_is_ln_of_gross_return",
                    "log_return_1 = ln(1 + simple_return_1) to 1e-9 (both from the same two closes).",
                    "select symbol, bucket_start, simple_return_1, log_return_1 from {batch} "
                    "where abs(log_return_1 - ln(1 + simple_return_1)) > 1e-9 * greatest(1, abs(log_return_1))",
                ),
            ],
            BAR_KEY,
        ),
        SuiteSpec(
            "int_indicators_1h_momentum",
            f"select * from intermediate.int_indicators_1h_momentum where {in_window}",
            [*key_expectations(BAR_KEY),
             *(expect.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=100, meta={"rule": f"{c}_in_0_100"}) for c in percent)],
            BAR_KEY,
        ),
        SuiteSpec(
            "int_indicators_1h_volatility",
            f"select * from intermediate.int_indicators_1h_volatility where {in_window}",
            [
                *key_expectations(BAR_KEY),
                expect.ExpectColumnValuesToBeBetween(column="atr_14", min_value=0, meta={"rule": "atr_non_negative"}),
                *(expect.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing", meta={"rule": rule})
                  for a, b, rule in (("bb_upper", "bb_middle", "bb_upper_gte_middle"), ("bb_middle", "bb_lower", "bb_middle_gte_lower"))),
            ],
            BAR_KEY,
        ),
        SuiteSpec(
            "int_score_components_1h",
            f"select * from intermediate.int_score_components_1h where {in_window}",
            [
                *key_expectations(BAR_KEY),
                _score_time_ends_the_bar(BAR_KEY),
                *(_between(f"{c}_confidence", 0, 1) for c in SCORE_COMPONENTS),
                *(_between(c, -1, 1) for c in ("trend", "sentiment")),
            ],
            BAR_KEY,
        ),
        SuiteSpec(
            "int_signal_sentiment_1h",
            f"select * from intermediate.int_signal_sentiment_1h where {in_window}",
            [*key_expectations(BAR_KEY), _between("sentiment", -1, 1),
             expect.ExpectColumnValuesToBeBetween(column="confidence", min_value=0, max_value=1, strict_max=True, meta={"rule": "confidence_in_0_1"})],
            BAR_KEY,
        ),
        SuiteSpec(
            "int_market_regime_1h",
            f"select * from intermediate.int_market_regime_1h where {in_window}",
            [*key_expectations(("bucket_start",)), _in_set("regime", ("risk_on", "neutral", "risk_off", "unknown")),
             _between("volatility_percentile", 0, 1)],
            ("bucket_start",),
        ),
        SuiteSpec(
            "int_agent_evaluations_1h",
            f"select * from intermediate.int_agent_evaluations_1h where {in_window}",
            [*key_expectations(("agent", "symbol", "score_time")), _score_time_ends_the_bar(("agent", "symbol")),
             _in_set("agent", AGENTS), _in_set("recommendation", RECOMMENDATIONS), _between("score", -1, 1), _between("confidence", 0, 1)],
            ("agent", "symbol", "score_time"),
        ),
        SuiteSpec(
            "int_agent_consensus_1h",
            f"select * from intermediate.int_agent_consensus_1h where {in_window}",
            [*key_expectations(("symbol", "score_time")), _score_time_ends_the_bar(("symbol",)),
             _in_set("recommendation", RECOMMENDATIONS), _between("consensus_score", -1, 1), _between("consensus_confidence", 0, 1)],
            ("symbol", "score_time"),
        ),
        _clusters_suite(start, end),
    ]


def marts(start: datetime, end: datetime) -> list[SuiteSpec]:
    s, e = sql_literal(start), sql_literal(end)
    expect = gx.expectations
    score_key = ("symbol", "score_time", "algorithm_version")
    unit = ("composite_score", *(f"{c}_score" for c in SCORE_COMPONENTS))
    return [
        SuiteSpec(
            "fct_symbol_scores",
            f"select * from marts.fct_symbol_scores where bucket_start >= {s} and bucket_start < {e}",
            [
                *key_expectations(score_key),
                *(expect.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1, meta={"rule": f"{c}_in_unit_interval"}) for c in unit),
                _between("composite_confidence", 0, 1 + 1e-12),  # a sum of renormalised weights: 1 to rounding
                _score_time_ends_the_bar(("symbol",)),
                unexpected_rows(
                    "eligible_is_scored",
                    "An eligible contract has a composite score.",
                    "select symbol, score_time, algorithm_version from {batch} where is_eligible and composite_score is null",
                ),
                _composite_confidence_is_weighted_confidence(),
                _composite_is_weighted_mean(),
                _universe_size_counts_eligible_rows(),
            ],
            score_key,
        ),
        SuiteSpec(
            "dim_symbols",
            "select * from marts.dim_symbols",  # one row per contract: bounded by the universe, not by history
            [*key_expectations(("symbol",)),
             expect.ExpectColumnValuesToBeBetween(column="tick_size", min_value=0, strict_min=True, meta={"rule": "tick_size_positive"})],
            ("symbol",),
        ),
        SuiteSpec(
            "fct_agent_performance",
            # the UTC days the window touches, and the day before (a day's calls resolve later)
            f"select * from marts.fct_agent_performance where score_date >= ({s} at time zone 'UTC')::date - 1 "
            f"and score_date <= ({e} at time zone 'UTC')::date",
            [*key_expectations(("agent", "score_date")), _in_set("agent", AGENTS), _between("hit_rate", 0, 1),
             _between("ic", -1 - 1e-12, 1 + 1e-12)],
            ("agent", "score_date"),
        ),
    ]


LAYERS = {"staging": staging, "intermediate": intermediate, "marts": marts}


def _rollup_suite(name: str, width: timedelta, start: datetime, end: datetime) -> SuiteSpec:
    """The bars of ``name`` overlapping the window, and their reconciliation with the 1-minute candles they roll up.

    Every bar equals the rollup of the 1-minute candles stored in its bucket, exactly: open = the
    first minute's open, close = the last minute's close, high/low = the extremes, volume_lots and
    minute_count = the sums (numeric: exact); and every bucket with a stored minute has its bar.
    """
    first, last = _floor(start, width), _floor(end - timedelta(microseconds=1), width) + width
    f, l = sql_literal(first), sql_literal(last)
    minutes = "{:d}".format(int(width.total_seconds() // 60))
    rollup = f"""
        with minute_rollup as (
            select symbol, date_bin(interval '{int(width.total_seconds())} seconds', open_time, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
                   (array_agg(open order by open_time))[1] as open, max(high) as high, min(low) as low,
                   (array_agg(close order by open_time desc))[1] as close, sum(volume_lots) as volume_lots, count(*) as minute_count
            from staging.stg_kucoin__candles_1m
            where open_time >= {f} and open_time < {l}
            group by 1, 2
        )
        select coalesce(bars.symbol, minute_rollup.symbol) as symbol, coalesce(bars.bucket_start, minute_rollup.bucket_start) as bucket_start,
               bars.volume_lots as bar_volume_lots, minute_rollup.volume_lots as minute_volume_lots,
               bars.minute_count as bar_minute_count, minute_rollup.minute_count as minutes_stored
        from {{batch}} as bars
        full join minute_rollup on minute_rollup.symbol = bars.symbol and minute_rollup.bucket_start = bars.bucket_start
        where bars.symbol is null or minute_rollup.symbol is null
           or (bars.open, bars.high, bars.low, bars.close, bars.volume_lots, bars.minute_count)
              is distinct from (minute_rollup.open, minute_rollup.high, minute_rollup.low, minute_rollup.close,
                                minute_rollup.volume_lots::numeric, minute_rollup.minute_count::integer)
    """
    return SuiteSpec(
        name,
        f"select * from intermediate.{name} where bucket_start >= {f} and bucket_start < {l}",
        [
            *key_expectations(BAR_KEY),
            *ohlc_expectations("volume_lots"),
            gx.expectations.ExpectColumnValuesToBeBetween(column="minute_count", min_value=1, max_value=int(minutes), meta={"rule": "minute_count_in_bucket"}),
            unexpected_rows("rolls_up_the_1m_candles", f"Each {name} bar is the exact rollup of the 1-minute candles of its bucket, and each such bucket has its bar.", rollup),
        ],
        BAR_KEY,
    )


def _clusters_suite(start: datetime, end: datetime) -> SuiteSpec:
    """The clusters of the days the window touches (as_of = the end of the UTC day, as in the model)."""
    day = timedelta(days=1)
    first, last = _floor(start, day) + day, _floor(end - timedelta(microseconds=1), day) + day
    key = ("as_of", "symbol")
    return SuiteSpec(
        "int_correlation_clusters_1d",
        f"select * from intermediate.int_correlation_clusters_1d where as_of >= {sql_literal(first)} and as_of <= {sql_literal(last)}",
        [
            *key_expectations(key),
            gx.expectations.ExpectColumnValuesToBeBetween(column="cluster_size", min_value=1, meta={"rule": "cluster_size_positive"}),
            unexpected_rows(
                "cluster_id_is_smallest_member",
                "A cluster is named by its smallest symbol (byte order), so no member sorts before its cluster_id.",
                'select as_of, symbol, cluster_id from {batch} where cluster_id > symbol collate "C"',
            ),
        ],
        key,
    )


def _between(column: str, low: float, high: float) -> Expectation:
    """``column`` within [low, high] where present (a null is the model's documented 'undefined')."""
    return gx.expectations.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high, meta={"rule": f"{column}_in_range"})


def _in_set(column: str, values: tuple[str, ...]) -> Expectation:
    return gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=list(values), meta={"rule": f"{column}_accepted"})


def _score_time_ends_the_bar(key: tuple[str, ...]) -> Expectation:
    return unexpected_rows(
        "score_time_ends_the_bar",
        "A row is published at the end of the hour it describes: score_time = bucket_start + 1 hour.",
        f"select {', '.join(key)}, score_time, bucket_start from {{batch}} where score_time <> bucket_start + interval '1 hour'",
    )


def _composite_confidence_is_weighted_confidence() -> Expectation:
    """composite_confidence = sum of w_c x confidence_c over the components c present in the row
    (value defined and confidence_c >= the version's min_component_confidence, seed
    scoring_algorithm_parameters) with w_c from seed scoring_algorithm_weights (0 for a component
    the version does not weigh), to 1e-9; every row, eligible or not. dbt tests only its range."""
    return _seed_weighted(
        "composite_confidence_is_weighted_confidence",
        "composite_confidence is the seed-weighted sum of the confidences of the row's present components, to 1e-9.",
        "composite_confidence",
        "coalesce(sum(weights.weight::double precision * component.confidence), 0)",
        "component.value is not null and component.confidence >= threshold.value::double precision",
    )


def _composite_is_weighted_mean() -> Expectation:
    """composite_score = sum of w_c x score_c / sum of w_c over the components c with a score and a
    weight of the version in seed scoring_algorithm_weights (a component has a score exactly when
    the row is eligible and the component present), to 1e-9. dbt tests only its range: a wrong
    weight, a component left out or a stale normalisation stays in [0, 1]."""
    return _seed_weighted(
        "composite_is_weighted_mean_of_component_scores",
        "composite_score is the seed-weighted mean of the present component scores of its version, to 1e-9.",
        "composite_score",
        "sum(weights.weight::double precision * component.score) / sum(weights.weight::double precision)",
        "component.score is not null",
        compared="scores.composite_score is not null",
    )


def _seed_weighted(rule: str, description: str, column: str, reference: str, present: str, compared: str = "true") -> Expectation:
    """fct_symbol_scores.``column`` equals ``reference`` to 1e-9 in the rows ``compared`` selects (a
    null stored value is flagged); ``reference`` aggregates the row's components (component.name,
    value, confidence, score) that are ``present``, each with its weight in seed
    scoring_algorithm_weights (weights.weight) and the version's min_component_confidence in seed
    scoring_algorithm_parameters (threshold.value); a component the version does not weigh is left out."""
    components = ", ".join(f"('{c}', scores.{c}, scores.{c}_confidence, scores.{c}_score)" for c in SCORE_COMPONENTS)
    return unexpected_rows(rule, description, f"""
        select scores.symbol, scores.score_time, scores.algorithm_version, scores.{column}, weighted.value as weighted_{column}
        from {{batch}} as scores
        cross join lateral (
            select {reference} as value
            from (values {components}) as component (name, value, confidence, score)
            join marts.scoring_algorithm_weights weights
              on weights.algorithm_version = scores.algorithm_version and weights.component = component.name
            join marts.scoring_algorithm_parameters threshold
              on threshold.algorithm_version = scores.algorithm_version and threshold.parameter = 'min_component_confidence'
            where {present}
        ) as weighted
        where {compared} and not abs(scores.{column} - weighted.value) <= 1e-9
        """)


def _universe_size_counts_eligible_rows() -> Expectation:
    """ranked_universe_size = the number of eligible rows of the version at the score_time: the
    universe the percent ranks and z-scores were taken in. A cross-row count no dbt test makes;
    the batch holds whole score_times (the window is a set of whole hours)."""
    return unexpected_rows(
        "ranked_universe_size_counts_eligible_rows",
        "ranked_universe_size of an eligible row is the number of eligible rows of its version and score_time.",
        """
        select symbol, score_time, algorithm_version, ranked_universe_size, eligible_rows
        from (
            select symbol, score_time, algorithm_version, is_eligible, ranked_universe_size,
                   count(*) filter (where is_eligible) over (partition by score_time, algorithm_version) as eligible_rows
            from {batch}
        ) as counted
        where is_eligible and ranked_universe_size is distinct from eligible_rows
        """,
    )


def _floor(moment: datetime, width: timedelta) -> datetime:
    return moment - (moment - _BUCKET_ORIGIN) % width
