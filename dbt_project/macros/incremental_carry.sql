{#-
    Carrying state across incremental runs (the int_indicators_1h_* models).

    A recursive indicator (EMA, Wilder smoothing, TA-Lib's running sums) depends on every bar
    since the contract's first. Instead of re-reading that history, each row stores the state of
    its recursions, and an incremental run reads per contract only the last few rows stored
    before its window: the latest seeds the recursions, the others complete the first frames and
    lags. The work per run is therefore bounded by the window, whatever the history length, and
    consecutive windows reproduce a full refresh exactly.

    The reads are bounded by their predicates, not by a LIMIT the planner may choose to satisfy
    by fetching and sorting the whole history: the last bar before the window is a max() over
    the (symbol, bucket_start) index, the state row is fetched by its key, and the carried rows
    are the key range [carry_start, last bar] (carry_start is stored on every row).
-#}

{% macro last_bar_before_window(symbol) -%}
    {#- Subquery: the start of the contract's last 1h bar before the window (int_candles_1h), read
        backwards through its (symbol, bucket_start) index: one row. -#}
    (
        select max(candles.bucket_start)
        from {{ ref("int_candles_1h") }} as candles
        where candles.symbol = {{ symbol }}
          and candles.bucket_start < {{ window_start() }}
    )
{%- endmacro %}

{% macro stored_state(window_bars, columns) %}
    {#- Select of this model's row at the last 1h bar before the window of each contract with a
        bar in the CTE `window_bars` (none for a contract new in the window): the state to
        continue from. `columns` lists what to read (symbol and bucket_start first). Two index
        probes per contract, whatever the history length. -#}
    select stored.{{ columns | join(", stored.") }}
    from (select distinct symbol from {{ window_bars }}) as window_symbols
    inner join {{ this }} as stored
        on stored.symbol = window_symbols.symbol
        and stored.bucket_start = {{ last_bar_before_window("window_symbols.symbol") }}
{% endmacro %}

{% macro stored_rows_before_window(carried_state, columns) %}
    {#- Select of this model's rows from each carried state's carry_start up to the window: the
        last N stored rows of the contract, N being the model's longest lookback (carry_start,
        stored on every row, is the bucket_start of the row N - 1 rows before it). A range scan
        of N rows per contract through the (symbol, bucket_start) index. -#}
    select stored.{{ columns | join(", stored.") }}
    from {{ carried_state }}
    inner join {{ this }} as stored
        on stored.symbol = {{ carried_state }}.symbol
        and stored.bucket_start >= {{ carried_state }}.carry_start
        and stored.bucket_start <= {{ carried_state }}.bucket_start
{% endmacro %}

{% macro carry_start(row_count) -%}
    {#- Window expression (over the series of a contract) of carry_start: the bucket_start of the
        row row_count - 1 rows back (or of the first row), i.e. where the next run's carried rows
        begin when this row is the last one before its window. -#}
    min(bucket_start) over (partition by symbol order by bucket_start rows between {{ row_count - 1 }} preceding and current row)
{%- endmacro %}

{% macro continuous_symbols(window_bars, carried_state) %}
    {#- Select of the contracts of `window_bars` whose carried state (the CTE `carried_state`,
        one row per contract) belongs to their last 1h bar before the window. A contract with a
        bar before the window but no row of this model there means an earlier window was never
        built into it: the statement fails with a hint instead of continuing from a wrong state. -#}
    select window_symbols.symbol
    from (select distinct symbol from {{ window_bars }}) as window_symbols
    left join {{ carried_state }} on {{ carried_state }}.symbol = window_symbols.symbol
    cross join lateral (select {{ last_bar_before_window("window_symbols.symbol") }} as bucket_start) as last_bar
    where zmart_fn.assert_true(
        {{ carried_state }}.bucket_start is not distinct from last_bar.bucket_start,
        format(
            '{{ this.identifier }}: %s has a 1h bar at %s before the window but no row there; '
            'build the earlier windows first (in time order) or run with --full-refresh',
            window_symbols.symbol, last_bar.bucket_start
        )
    )
{% endmacro %}

{% macro carried(column, data_type="double precision") -%}
    {#- The carried state's `column` on an incremental run (the CTE carried_state, joined), a
        typed null when the table is being built from the start of history. -#}
    {%- if is_incremental() -%}
        carried_state.{{ column }}
    {%- else -%}
        null::{{ data_type }}
    {%- endif -%}
{%- endmacro %}

