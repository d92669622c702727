{#-
    Lineage to the raw load batches (raw.load_batches, the ledger every raw row is stamped from).

    Every mart row carries input_batch_ids: the sorted distinct batch_id of the raw rows its
    inputs were computed from (1-minute candles and the contract snapshots in force, through
    int_candles_5m's batch_ids; see each model's YAML for which inputs it traces). A model that
    combines rows takes the union of their arrays with union_batch_ids (an aggregate, also usable
    over a window frame); one that combines inputs side by side merges them with merge_batch_ids.
    Rows derived from the portfolio manager's evaluations trace through the scores the evaluation
    ranked: every fct_symbol_scores row of its (score_time = as_of, algorithm_version), read by the
    (score_time, algorithm_version) index (evaluation_batch_ids).
-#}

{% macro union_batch_ids(column) -%}
    {#- Aggregate: the sorted distinct union of the bigint[] `column` over the rows ('{}' for none). -#}
    zmart_fn.sorted_distinct(zmart_fn.array_cat_agg({{ column }}))
{%- endmacro %}

{% macro merge_batch_ids(columns) -%}
    {#- Row expression: the sorted distinct union of the bigint[] expressions `columns` (nulls, i.e.
        an input that is absent for the row, add nothing). -#}
    zmart_fn.sorted_distinct(
        {%- for column in columns %}
        coalesce({{ column }}, '{}'::bigint[]){{ " ||" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro evaluation_batch_ids(as_of, algorithm_version) -%}
    {#- Scalar subquery: the union of input_batch_ids of the scores an evaluation at `as_of` of
        `algorithm_version` ranked (fct_symbol_scores at score_time = as_of): one index range per
        evaluation, whatever the history length. -#}
    (
        select {{ union_batch_ids("scores.input_batch_ids") }}
        from {{ ref("fct_symbol_scores") }} as scores
        where scores.score_time = {{ as_of }}
          and scores.algorithm_version = {{ algorithm_version }}
    )
{%- endmacro %}

{% macro bar_batch_ids(symbol, bucket_start) -%}
    {#- Scalar subquery: int_candles_1h.batch_ids of the bar (symbol, bucket_start), read by its
        key; null when there is no such bar. -#}
    (
        select candles.batch_ids
        from {{ ref("int_candles_1h") }} as candles
        where candles.symbol = {{ symbol }} and candles.bucket_start = {{ bucket_start }}
    )
{%- endmacro %}
