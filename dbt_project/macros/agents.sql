{#-
    Agents (int_agent_evaluations_1h -> int_agent_accuracy_1h -> int_agent_consensus_1h,
    fct_agent_performance). Parameters come from the var `agents` (dbt_project.yml), validated
    before any SQL is produced: a malformed value fails the invocation with a message naming it.

    recommendation_threshold  t: a score >= t recommends buy, <= -t sell, else hold (0 < t < 1)
    outcome_horizon_hours     H: a call at score_time s is judged by int_forward_returns_1h at
                              (s, H) and is known from s + H on (one of
                              scoring_performance.forward_return_horizons)
    accuracy_lookback_hours   L: the accuracy at as_of counts the calls resolved in (as_of - L, as_of]
    accuracy_prior_strength   k: the hit rate is shrunk to 1/2 by a Beta(k/2, k/2) prior
    dispute_weight_floor      f: a consensus is disputed when an agent of weight >= f recommends
                              buy and another of weight >= f recommends sell (0 < f < 1)
    trend_scale               technical: tanh((close / sma_20 - 1) / trend_scale)
    macd_scale                technical: tanh((macd_hist / close) / macd_scale)
    spread_ceiling            risk: 1 - 2 min(1, corwin_schultz_spread / spread_ceiling)
-#}

{% macro agents_parameters() %}
    {%- set raw = var("agents", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var agents is missing or not a mapping (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set p = {} -%}
    {%- for name, low, high in [("outcome_horizon_hours", 1, 720), ("accuracy_lookback_hours", 1, 87600),
                                ("accuracy_prior_strength", 1, 100000)] -%}
        {%- do p.update({name: integer_var("agents." ~ name, raw.get(name), low, high)}) -%}
    {%- endfor -%}
    {%- set horizons = scoring_performance_parameters()["horizons"] -%}
    {%- if p["outcome_horizon_hours"] not in horizons -%}
        {{ exceptions.raise_compiler_error("var agents.outcome_horizon_hours=" ~ p["outcome_horizon_hours"] ~ " is not one of scoring_performance.forward_return_horizons " ~ horizons) }}
    {%- endif -%}
    {%- for name in ["recommendation_threshold", "dispute_weight_floor", "trend_scale", "macd_scale", "spread_ceiling"] -%}
        {%- do p.update({name: number_var("agents." ~ name, raw.get(name), 0, 1, "()")}) -%}
    {%- endfor -%}
    {{ return(p) }}
{% endmacro %}

{% macro agents_list() %}
    {{ return(["technical", "market_structure", "risk", "sentiment"]) }}
{% endmacro %}

{% macro agent_recommendation(score) -%}
    {#- buy / hold / sell of a score by the threshold t; 'abstain' when the score is null. -#}
    {%- set t = agents_parameters()["recommendation_threshold"] -%}
    case when {{ score }} is null then 'abstain'
         when {{ score }} >= {{ t }} then 'buy'
         when {{ score }} <= -{{ t }} then 'sell'
         else 'hold' end
{%- endmacro %}

{% macro clamp_unit(value) -%}
    {#- `value` clamped to [-1, 1], null when null (greatest and least ignore nulls). -#}
    (case when ({{ value }}) is not null then greatest(-1, least(1, {{ value }})) end)
{%- endmacro %}

{% macro agent_evaluation(agent, agent_inputs, inputs, sub_scores, confidence=none) %}
    {#- Select of one agent's rows from the CTE `agent_inputs` (symbol, bucket_start, the
        columns `inputs` and the sub-score expressions of the mapping `sub_scores`, name ->
        SQL over the inputs, each in [-1, 1] or null when its inputs are missing):
          score      = mean of the defined sub-scores (null: none defined, the agent abstains)
          confidence = (defined / all sub-scores) x (1 - population stddev of the defined ones),
                       in [0, 1] (the stddev of values in [-1, 1] is at most 1); 0 when abstaining
        or the expression `confidence` over the inputs (taken as 0 when the score is null).
        evidence = {"inputs": {...}, "sub_scores": {...}}; input_batch_ids = the CTE's
        input_batch_ids, the lineage of the rows the agent read ('{}' when null). -#}
    select
        '{{ agent }}'::text as agent,
        {{ agent_inputs }}.symbol,
        {{ agent_inputs }}.bucket_start + interval '1 hour' as score_time,
        {{ agent_inputs }}.bucket_start,
        summary.score,
        {%- if confidence is none %}
        coalesce(summary.sub_score_count::double precision / {{ sub_scores | length }} * greatest(0, 1 - summary.dispersion), 0) as confidence,
        {%- else %}
        case when summary.score is null then 0 else {{ confidence }} end as confidence,
        {%- endif %}
        {{ agent_recommendation("summary.score") }} as recommendation,
        summary.sub_score_count::integer as sub_score_count,
        jsonb_build_object(
            'inputs', jsonb_build_object(
                {%- for column in inputs %}
                '{{ column }}', {{ agent_inputs }}.{{ column }}{{ "," if not loop.last }}
                {%- endfor %}
            ),
            'sub_scores', jsonb_build_object(
                {%- for name in sub_scores %}
                '{{ name }}', sub_scores.{{ name }}{{ "," if not loop.last }}
                {%- endfor %}
            )
        ) as evidence,
        coalesce({{ agent_inputs }}.input_batch_ids, '{}'::bigint[]) as input_batch_ids
    from {{ agent_inputs }}
    cross join lateral (
        select
            {%- for name, expression in sub_scores.items() %}
            ({{ expression }})::double precision as {{ name }}{{ "," if not loop.last }}
            {%- endfor %}
    ) as sub_scores
    cross join lateral (
        -- in the array's order, so every run sums alike
        select avg(value) as score, stddev_pop(value) as dispersion, count(value) as sub_score_count
        from unnest(array[sub_scores.{{ sub_scores.keys() | join(", sub_scores.") }}]) as value
    ) as summary
{% endmacro %}

{% macro agent_performance_days() %}
    {#- (first, end) UTC dates, end exclusive, of the days fct_agent_performance rebuilds: those
        holding a score_time in [window_start + 1 - H hours, window_end + 1 hour), whose
        evaluations or H-hour forward returns the window (re)built; none for an unbounded side. -#}
    {%- set start, end = window_bounds() -%}
    {%- set hours = modules.datetime.timedelta(hours=1) -%}
    {%- set h = agents_parameters()["outcome_horizon_hours"] -%}
    {%- set first = none if start is none else _bucket_floor(start + hours * (1 - h), 86400).date() -%}
    {%- set last = none if end is none else _bucket_floor(end + hours - modules.datetime.timedelta(microseconds=1), 86400).date() -%}
    {{ return((first, none if last is none else last + modules.datetime.timedelta(days=1))) }}
{% endmacro %}

{% macro date_literal(day, unbounded) -%}
    {%- if day is none -%} '{{ unbounded }}'::date {%- else -%} '{{ day.isoformat() }}'::date {%- endif -%}
{%- endmacro %}

{% macro in_days(column, first, end) -%}
    {#- Predicate: the timestamptz `column` lies in the UTC days [first, end) (none = unbounded). -#}
    ({{ column }} >= {{ date_literal(first, "-infinity") }}::timestamp at time zone 'UTC'
     and {{ column }} < {{ date_literal(end, "infinity") }}::timestamp at time zone 'UTC')
{%- endmacro %}

{% macro agent_performance_delete_predicate() -%}
    {#- fct_agent_performance's incremental_predicates entry (window_delete_insert renders it at
        execution, see window_delete_predicate): the days agent_performance_days() rebuilds. -#}
    {{ return("{{ agent_performance_window_predicate() }}") }}
{%- endmacro %}

{% macro agent_performance_window_predicate() -%}
    {%- set first, end = agent_performance_days() -%}
    DBT_INTERNAL_DEST.score_date >= {{ date_literal(first, "-infinity") }} and DBT_INTERNAL_DEST.score_date < {{ date_literal(end, "infinity") }}
{%- endmacro %}

{% macro bar_join(model, alias) -%}
    {#- Left join of `model`'s row at each bar of the CTE window_bars (on its symbol, bucket_start
        key; the window predicate lets the planner range-scan its bucket_start index). -#}
    left join {{ ref(model) }} as {{ alias }}
        on {{ alias }}.symbol = window_bars.symbol and {{ alias }}.bucket_start = window_bars.bucket_start
        and {{ in_build_window(alias ~ ".bucket_start") }}
{%- endmacro %}
