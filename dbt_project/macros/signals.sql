{#-
    Signals (stg_signals__signals -> int_signal_event_members -> int_signal_events,
    int_signal_source_reliability -> int_signal_sentiment_1h). Parameters come from the var
    `signals` (dbt_project.yml), validated before any SQL is produced: a malformed value fails
    the invocation with a message naming it.

    outcome_horizon_hours       H: a signal received in the hour starting at b is judged by the
                                forward return from b + 1 hour over H hours
                                (int_forward_returns_1h, so H must be one of
                                scoring_performance.forward_return_horizons)
    event_window_minutes        W: near-duplicates are published at most W minutes apart
    text_similarity             x: pg_trgm similarity(a, b) >= x makes two texts near-duplicates
    reliability_lookback_hours  L: a source's hit rate at as_of counts the signals received in
                                [as_of - L hours, as_of)
    reliability_prior_strength  k: the hit rate is shrunk to 1/2 by a Beta(k/2, k/2) prior
    sentiment_model_version     the raw.signal_sentiment model version staging reads
-#}

{% macro signals_parameters() %}
    {%- set raw = var("signals", none) -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error("var signals is missing or not a mapping (see the vars block of dbt_project.yml)") }}
    {%- endif -%}
    {%- set horizons = scoring_performance_parameters()["horizons"] -%}
    {%- set p = {} -%}
    {%- for name, low, high in [("outcome_horizon_hours", 1, 720), ("event_window_minutes", 1, 1440),
                                ("reliability_lookback_hours", 1, 87600), ("reliability_prior_strength", 1, 100000)] -%}
        {%- do p.update({name: integer_var("signals." ~ name, raw.get(name), low, high)}) -%}
    {%- endfor -%}
    {%- if p["outcome_horizon_hours"] not in horizons -%}
        {{ exceptions.raise_compiler_error("var signals.outcome_horizon_hours=" ~ p["outcome_horizon_hours"] ~ " is not one of scoring_performance.forward_return_horizons " ~ horizons) }}
    {%- endif -%}
    {%- set similarity = number_var("signals.text_similarity", raw.get("text_similarity"), 0, 1, "(]") -%}
    {%- set version = raw.get("sentiment_model_version") -%}
    {%- if version is not string or modules.re.match("^[0-9A-Za-z.+-]{1,40}$", version) is none -%}
        {{ exceptions.raise_compiler_error("var signals.sentiment_model_version=" ~ version ~ " is malformed: expected a version string such as '3.3.2'") }}
    {%- endif -%}
    {%- do p.update({"text_similarity": similarity, "sentiment_model_version": version}) -%}
    {{ return(p) }}
{% endmacro %}
