{#-
    The score components (int_score_components_1h) and the versioned scoring algorithms
    (fct_symbol_scores, seeds scoring_algorithms, scoring_algorithm_weights,
    scoring_algorithm_parameters).

    score_components(): each component's measures as SQL expressions over the columns of
    int_score_components_1h's CTE `bar_inputs`, its primary measure (the single-measure
    definition, v1's), the sign that makes a higher value better, and the formula for the docs.
    A component's combined value is the mean of its defined measures (every measure of a
    component is on one scale, see each); its confidence is
        (defined measures / measures) x bar_completeness x lookback_coverage
    and 0 when the value is null, times the component's confidence_factor when it has one (sentiment:
    the confidence int_signal_sentiment_1h gives the hour's signals). A component with batch_ids
    (an expression over int_score_components_1h's inputs, sentiment: the signals') reads raw rows
    beyond the bars: int_score_components_1h stores them as <component>_batch_ids and a
    fct_symbol_scores version that weighs the component adds them to its input_batch_ids. A new
    component: its entry here, its columns in the YAML.

    scoring_parameters(): the parameters a version may set in scoring_algorithm_parameters, the
    rule each value must satisfy (a SQL predicate over the text column `value`), and whether it
    is required of every active version.

    scoring_seed_violations(): one row per broken rule of the three seeds (seed, algorithm_version,
    rule); fct_symbol_scores and the seeds' data test scoring_seeds_are_valid fail with all of
    them in the message.
-#}

{% macro score_components() %}
    {{ return({
        "liquidity": {
            "primary": "case when turnover_quote_24h > 0 then ln(turnover_quote_24h) end",
            "measures": [
                "corwin_schultz_spread / 2",
                "book_spread_bps_mean / 2e4",
                "amihud_illiquidity_24",
                "case when book_depth_quote_50bps > 0 then 0.005 * 1e6 / book_depth_quote_50bps end",
            ],
            "combine": "negative_log_mean",
            "sign": 1,
        },
        "momentum": {
            "primary": "(rsi_14 - 50) / 50",
            "measures": [
                "(rsi_14 - 50) / 50",
                "(stoch_slowk - 50) / 50",
                "case when rv_close_to_close_24 > 0 then tanh(ln(1 + roc_10 / 100) / (rv_close_to_close_24 * sqrt(10))) end",
            ],
            "combine": "mean",
            "sign": 1,
        },
        "risk": {
            "primary": "rv_close_to_close_24",
            "measures": [
                "rv_close_to_close_24",
                "rv_parkinson_24",
                "rv_garman_klass_24",
                "atr_14 / nullif(close, 0) * sqrt(pi() / 8)",
            ],
            "combine": "mean",
            "sign": -1,
        },
        "sentiment": {
            "primary": "signal_sentiment",
            "measures": ["signal_sentiment"],
            "combine": "mean",
            "confidence_factor": "coalesce(signal_confidence, 0)",
            "sign": 1,
            "batch_ids": "signal_batch_ids",
        },
        "trend": {
            "primary": "close / nullif(sma_20, 0) - 1",
            "measures": [
                "case when atr_14 > 0 then tanh((close - sma_20) / atr_14) end",
                "case when atr_14 > 0 then tanh(macd_hist / atr_14) end",
                "(plus_di_14 - minus_di_14) / 100 * adx_14 / 100",
            ],
            "combine": "mean",
            "sign": 1,
        },
    }) }}
{% endmacro %}

{% macro defined_count(expressions) -%}
    {#- How many of the SQL expressions are not null. -#}
    ({% for e in expressions %}({{ e }}) is not null{{ ")::int + (" if not loop.last }}{% endfor %})::int
{%- endmacro %}

{% macro mean_of_defined(expressions) -%}
    {#- The mean of the non-null SQL expressions, null when none is defined. -#}
    ({% for e in expressions %}coalesce({{ e }}, 0){{ " + " if not loop.last }}{% endfor %}) / nullif({{ defined_count(expressions) }}, 0)
{%- endmacro %}

{% macro scoring_parameters() %}
    {#- rule: a SQL predicate over the text `value` (numbers are checked for their format before
        they are cast, in a case: SQL does not order the operands of `and`). -#}
    {%- set number = "case when value ~ '^[0-9]+(\\.[0-9]+)?$' then " -%}
    {{ return({
        "component_measures": {"rule": "value in ('primary', 'combined')", "expected": "primary or combined", "required": true},
        "normalisation": {"rule": "value in ('percent_rank', 'zscore')", "expected": "percent_rank or zscore", "required": true},
        "winsorisation_limit": {"rule": number ~ "value::numeric > 0 else false end", "expected": "a number > 0", "required": false},
        "min_component_confidence": {"rule": number ~ "value::numeric <= 1 else false end", "expected": "a number in [0, 1]", "required": true},
        "min_composite_confidence": {"rule": number ~ "value::numeric <= 1 else false end", "expected": "a number in [0, 1]", "required": true},
        "min_present_weight": {"rule": number ~ "value::numeric > 0 and value::numeric <= 1 else false end", "expected": "a number in (0, 1]", "required": true},
    }) }}
{% endmacro %}

{% macro scoring_seed_violations() %}
    {#- Select of (seed, algorithm_version, rule): every broken rule of the three scoring seeds.
        Active versions are those whose status is not 'retired'. -#}
    {%- set components = score_components().keys() | list -%}
    {%- set parameters = scoring_parameters() -%}
    {%- set algorithms, weights, params = ref("scoring_algorithms"), ref("scoring_algorithm_weights"), ref("scoring_algorithm_parameters") -%}
    select 'scoring_algorithms' as seed, algorithm_version, 'status ' || coalesce(status, 'null') || ' is not one of production, candidate, retired' as rule
    from {{ algorithms }}
    where status is null or status not in ('production', 'candidate', 'retired')
    union all
    select 'scoring_algorithms', algorithm_version, 'algorithm_version is malformed: expected letters, digits, ''.'', ''_'' or ''-'' (at most 40)'
    from {{ algorithms }}
    where algorithm_version is null or algorithm_version !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'
    union all
    select 'scoring_algorithms', algorithm_version, 'the version is listed ' || count(*) || ' times'
    from {{ algorithms }}
    group by algorithm_version
    having count(*) > 1
    union all
    select 'scoring_algorithm_weights', algorithm_version, 'component ' || coalesce(component, 'null') || ' is not one of {{ components | join(", ") }}'
    from {{ weights }}
    where component is null or component not in ('{{ components | join("', '") }}')
    union all
    select 'scoring_algorithm_weights', algorithm_version, 'weight of ' || component || ' = ' || coalesce(weight::text, 'null') || ' is not in [0, 1]'
    from {{ weights }}
    where weight is null or weight < 0 or weight > 1
    union all
    select 'scoring_algorithm_weights', algorithm_version, 'component ' || component || ' is weighted ' || count(*) || ' times'
    from {{ weights }}
    group by algorithm_version, component
    having count(*) > 1
    union all
    select 'scoring_algorithm_weights', algorithm_version, 'weights sum to ' || trim_scale(sum(weight)) || ', not 1'
    from {{ weights }}
    group by algorithm_version
    having sum(weight) is distinct from 1
    union all
    select 'scoring_algorithm_weights', algorithm_version, 'the version is not in seed scoring_algorithms'
    from {{ weights }}
    where algorithm_version not in (select algorithm_version from {{ algorithms }} where algorithm_version is not null)
    union all
    select 'scoring_algorithm_parameters', algorithm_version, 'parameter ' || coalesce(parameter, 'null') || ' is unknown: expected one of {{ parameters.keys() | join(", ") }}'
    from {{ params }}
    where parameter is null or parameter not in ('{{ parameters.keys() | join("', '") }}')
    union all
    {%- for name, spec in parameters.items() %}
    select 'scoring_algorithm_parameters', algorithm_version, '{{ name }} = ' || coalesce(value, 'null') || ' is malformed: expected {{ spec["expected"] }}'
    from {{ params }}
    where parameter = '{{ name }}' and not coalesce({{ spec["rule"] }}, false)
    union all
    {%- endfor %}
    select 'scoring_algorithm_parameters', algorithm_version, 'parameter ' || parameter || ' is set ' || count(*) || ' times'
    from {{ params }}
    group by algorithm_version, parameter
    having count(*) > 1
    union all
    select 'scoring_algorithm_parameters', algorithm_version, 'the version is not in seed scoring_algorithms'
    from {{ params }}
    where algorithm_version not in (select algorithm_version from {{ algorithms }} where algorithm_version is not null)
    union all
    select 'scoring_algorithm_weights', algorithms.algorithm_version, 'the active version has no weights'
    from {{ algorithms }} as algorithms
    where algorithms.status <> 'retired'
      and not exists (select from {{ weights }} as weights where weights.algorithm_version = algorithms.algorithm_version)
    union all
    {%- for name, spec in parameters.items() if spec["required"] %}
    select 'scoring_algorithm_parameters', algorithms.algorithm_version, 'the active version has no parameter {{ name }}'
    from {{ algorithms }} as algorithms
    where algorithms.status <> 'retired'
      and not exists (
          select from {{ params }} as params
          where params.algorithm_version = algorithms.algorithm_version and params.parameter = '{{ name }}'
      )
    union all
    {%- endfor %}
    select 'scoring_algorithm_parameters', normalisation.algorithm_version,
        'winsorisation_limit is ' || case when limits.parameter is null then 'missing: normalisation zscore needs it' else 'set but normalisation is ' || normalisation.value || ': only zscore uses it' end
    from {{ params }} as normalisation
    left join (select * from {{ params }} where parameter = 'winsorisation_limit') as limits
        on limits.algorithm_version = normalisation.algorithm_version
    where normalisation.parameter = 'normalisation'
      and (normalisation.value = 'zscore') = (limits.parameter is null)
{% endmacro %}

{% macro assert_scoring_seeds_are_valid(seed=none) -%}
    {#- A boolean SQL expression that is true, or fails the statement naming every broken rule of
        the scoring seeds (of `seed` only, when given): "invalid scoring seeds: seed <seed>,
        version <version>: <rule>; ...". The check runs on the aggregate of the violations: a
        guard in a where clause could be evaluated on rows the other conditions exclude. -#}
    (
        select zmart_fn.assert_true(
            count(*) = 0,
            'invalid scoring seeds: ' || string_agg(
                format('seed %s, version %s: %s', seed, coalesce(algorithm_version, 'null'), rule), '; '
                order by seed, algorithm_version, rule
            )
        )
        from ({{ scoring_seed_violations() }}) as violations
        {%- if seed is not none %}
        where violations.seed = '{{ seed }}'
        {%- endif %}
    )
{%- endmacro %}
