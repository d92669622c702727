{#-
    The build window.

    Dagster runs one invocation per hourly partition range with the window in the environment:
        ZMART_DBT_WINDOW_START=2026-11-01T00:00:00+00:00 ZMART_DBT_WINDOW_END=2026-11-01T05:00:00+00:00 dbt build
    (UTC ISO-8601, end exclusive; orchestration/resources/dbt.py window_env). A windowed model
    rebuilds exactly the hour buckets whose start lies in [window_start, window_end). Unset means
    the whole history: window_start() renders '-infinity' and window_end() 'infinity'.

    By hand, `--vars '{"window_start": ..., "window_end": ...}'` works too and wins: when either
    var is set the window is read from the vars alone, never half from each (an explicit command
    line over whatever a shell inherited). It costs a full parse whenever the vars change.

    Why the environment, read at execution only. dbt 1.12 re-parses the whole project (~25 s
    here, against ~10 s partial) whenever the --vars differ from the ones target/
    partial_parse.msgpack was saved with: ManifestLoader.build_manifest_state_check hashes the
    cli vars, profile name, target name and dbt version into vars_hash, and is_partial_parsable
    rejects the saved manifest when vars_hash, profile_hash (the profile's connection_info
    values: host, port, user, database, schema, role, ...), the env vars dbt_project.yml uses or
    a dbt_project.yml changed (dbt/parser/manifest.py; dbt-core issues #6323, #10578). env_var()
    records a variable in manifest.env_vars and in its file's env_vars, which re-parses that file
    when the value changes, only while the node is not `compiled` (dbt/context/providers.py
    env_var); partial_parse.msgpack is written once, at the end of parsing
    (ManifestLoader.load -> write_manifest_for_partial_parse), so what execution records never
    reaches it. Hence window_bound() reads nothing while parsing (`execute` is false): every
    node's parsed form, its config included, is the same for every window, and the saved parse
    holds from one hour to the next. Nothing window-dependent may be rendered at parse time:
    incremental_predicates carry the window as Jinja that the window_delete_insert strategy
    renders at execution (macros/window_delete_insert.sql), and a data test's `where` names it
    with the placeholders __window_start__ / __window_end__ that get_where_subquery replaces
    (macros/where_subquery.sql).

    Values are validated before any model runs (the on-run-start hook check_build_window): an
    ISO-8601 date-time with an explicit UTC offset (Z or +hh:mm), on a whole UTC hour, with
    window_start < window_end. Anything else fails the invocation with a message naming the
    environment variable (or the var).

    When a windowed model's table is created (first build, --full-refresh) there is nothing
    before the window to continue from, so it is built from the start of history up to
    window_end: build_window_start() is window_start only on incremental runs.
-#}

{% macro window_setting(name) %}
    {#- (label, raw value or none) of the bound `name` (window_start / window_end): from the vars
        when --vars sets either bound, else from the environment variable ZMART_DBT_<NAME>
        (empty = unset). -#}
    {%- if var("window_start", none) is not none or var("window_end", none) is not none -%}
        {{ return(("var " ~ name, var(name, none))) }}
    {%- endif -%}
    {%- set env_name = "ZMART_DBT_" ~ name | upper -%}
    {{ return(("env var " ~ env_name, env_var(env_name, "") or none)) }}
{% endmacro %}

{% macro window_bound(name) %}
    {#- The bound `name` as a timezone-aware UTC datetime, or none when unset; always none while
        parsing (see above). -#}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set label, value = window_setting(name) -%}
    {%- if value is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if value is not string and value.isoformat is defined -%}
        {#- YAML turns an unquoted timestamp in --vars into a datetime; read it back as text. -#}
        {%- set value = value.isoformat() -%}
    {%- endif -%}
    {%- set example = "a UTC ISO-8601 timestamp with an offset on a whole hour, e.g. 2026-11-01T00:00:00+00:00" -%}
    {%- set pattern = "^(\\d{4})-(\\d{2})-(\\d{2})[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,6}))?)?(?:(Z)|([+-])(\\d{2}):?(\\d{2}))$" -%}
    {%- set match = modules.re.match(pattern, value | string) if value is string else none -%}
    {%- if match is none -%}
        {{ exceptions.raise_compiler_error(label ~ "=" ~ "'" ~ value ~ "'" ~ " is malformed: expected " ~ example) }}
    {%- endif -%}
    {%- set g = match.groups() -%}
    {%- set year, month, day = g[0] | int, g[1] | int, g[2] | int -%}
    {%- set hour, minute, second = g[3] | int, g[4] | int, (g[5] or 0) | int -%}
    {%- set micro = ((g[6] or "0") ~ "000000")[:6] | int -%}
    {%- set leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 -%}
    {%- set month_days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- set offset_hours, offset_minutes = (g[9] or 0) | int, (g[10] or 0) | int -%}
    {%- if year < 1 or month < 1 or month > 12 or day < 1 or day > month_days[month - 1]
          or hour > 23 or minute > 59 or second > 59 or offset_hours > 23 or offset_minutes > 59 -%}
        {{ exceptions.raise_compiler_error(label ~ "=" ~ "'" ~ value ~ "'" ~ " is not a valid date-time: expected " ~ example) }}
    {%- endif -%}
    {%- set dt = modules.datetime -%}
    {%- set sign = -1 if g[8] == "-" else 1 -%}
    {%- set zone = modules.pytz.FixedOffset(sign * (offset_hours * 60 + offset_minutes)) -%}
    {%- set moment = dt.datetime(year, month, day, hour, minute, second, micro, zone).astimezone(modules.pytz.utc) -%}
    {%- if moment.minute != 0 or moment.second != 0 or moment.microsecond != 0 -%}
        {{ exceptions.raise_compiler_error(label ~ "=" ~ "'" ~ value ~ "'" ~ " is not on a whole UTC hour: windows are made of hour buckets, expected " ~ example) }}
    {%- endif -%}
    {{ return(moment) }}
{% endmacro %}

{% macro window_bounds() %}
    {#- (start, end) as UTC datetimes or none; checks that start < end when both are set. -#}
    {%- set start = window_bound("window_start") -%}
    {%- set end = window_bound("window_end") -%}
    {%- if start is not none and end is not none and start >= end -%}
        {{ exceptions.raise_compiler_error(
            window_setting("window_start")[0] ~ "=" ~ start.isoformat() ~ " must be before "
            ~ window_setting("window_end")[0] ~ "=" ~ end.isoformat()
            ~ " (the window is [window_start, window_end), end exclusive)") }}
    {%- endif -%}
    {{ return((start, end)) }}
{% endmacro %}

{% macro timestamptz_literal(moment, unbounded) -%}
    {%- if moment is none -%}
        '{{ unbounded }}'::timestamptz
    {%- else -%}
        '{{ moment.strftime("%Y-%m-%d %H:%M:%S+00") }}'::timestamptz
    {%- endif -%}
{%- endmacro %}

{% macro window_start() -%}
    {#- The var window_start as a timestamptz literal; '-infinity' when unset. -#}
    {{- timestamptz_literal(window_bounds()[0], "-infinity") -}}
{%- endmacro %}

{% macro window_end() -%}
    {#- The var window_end as a timestamptz literal; 'infinity' when unset. -#}
    {{- timestamptz_literal(window_bounds()[1], "infinity") -}}
{%- endmacro %}

{% macro build_window_start() -%}
    {#- Where this run starts rebuilding: window_start on an incremental run; the start of
        history when the table is being created (first build or --full-refresh). -#}
    {%- if is_incremental() -%}
        {{- window_start() -}}
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{% macro in_build_window(column) -%}
    {#- Predicate: `column` (an hour bucket start) is one this run rebuilds. -#}
    {{ column }} >= {{ build_window_start() }} and {{ column }} < {{ window_end() }}
{%- endmacro %}

{% macro window_delete_predicate(column, shift=none) -%}
    {#- An incremental_predicates entry of the window_delete_insert strategy: confines the delete
        of delete+insert to the target rows of the window, so PostgreSQL finds them through the
        index on `column` instead of scanning the whole table. `shift` (an interval literal)
        moves the window when `column` is not the bucket start itself (score_time = bucket_start
        + 1 hour). The bounds stay Jinja here, rendered by the strategy at execution: config is
        rendered while parsing, when the window is not read. -#}
    {%- set offset = " + interval '" ~ shift ~ "'" if shift else "" -%}
    {{ return("DBT_INTERNAL_DEST." ~ column ~ " >= {{ window_start() }}" ~ offset
              ~ " and DBT_INTERNAL_DEST." ~ column ~ " < {{ window_end() }}" ~ offset) }}
{%- endmacro %}

{#-
    Buckets longer than an hour (4h, 1d bars) straddle hour windows: a run rebuilds every bucket
    that overlaps its window, from all the rows of the bucket (the whole UTC day for a 1d bar,
    also the hours after window_end if they are already built), so each bucket always holds
    exactly what a full refresh would put in it. Buckets are aligned on a grid from 2000-01-01
    00:00 UTC (UTC days, 4-hour blocks from midnight); for buckets of an hour or less the grid
    bounds are the window bounds themselves.
-#}

{% macro _bucket_floor(moment, bucket_seconds) %}
    {%- set epoch = moment.timestamp() | int -%}
    {{ return(modules.datetime.datetime.fromtimestamp(epoch - epoch % bucket_seconds, modules.pytz.utc)) }}
{% endmacro %}

{% macro bucket_window_start(bucket_seconds) -%}
    {#- Start of the first bucket overlapping the build window ('-infinity' when the table is
        being created or the window is unbounded). -#}
    {%- set start = window_bounds()[0] -%}
    {%- if is_incremental() and start is not none -%}
        {{- timestamptz_literal(_bucket_floor(start, bucket_seconds), "-infinity") -}}
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{% macro bucket_window_end(bucket_seconds) -%}
    {#- End of the last bucket overlapping the window: window_end rounded up to the grid. -#}
    {%- set end = window_bounds()[1] -%}
    {%- if end is none -%}
        'infinity'::timestamptz
    {%- else -%}
        {%- set floor = _bucket_floor(end, bucket_seconds) -%}
        {%- set ceiling = floor if floor == end else floor + modules.datetime.timedelta(seconds=bucket_seconds) -%}
        {{- timestamptz_literal(ceiling, "infinity") -}}
    {%- endif -%}
{%- endmacro %}

{% macro in_bucket_window(column, bucket_seconds) -%}
    {#- Predicate: `column` lies in a bucket this run rebuilds. -#}
    {{ column }} >= {{ bucket_window_start(bucket_seconds) }} and {{ column }} < {{ bucket_window_end(bucket_seconds) }}
{%- endmacro %}

{% macro window_bucket_start(bucket_seconds) -%}
    {#- window_start rounded down to the bucket grid ('-infinity' when unset), whether or not the
        table exists (for delete predicates and data tests). -#}
    {%- set start = window_bounds()[0] -%}
    {%- if start is none -%}
        '-infinity'::timestamptz
    {%- else -%}
        {{- timestamptz_literal(_bucket_floor(start, bucket_seconds), "-infinity") -}}
    {%- endif -%}
{%- endmacro %}

{% macro bucket_delete_predicate(column, bucket_seconds, shift=none) -%}
    {#- The incremental_predicates entry of a bucketed model (see window_delete_predicate; `shift`
        likewise, e.g. '1 day' when `column` is the end of the day, not its start). -#}
    {%- set offset = " + interval '" ~ shift ~ "'" if shift else "" -%}
    {{ return("DBT_INTERNAL_DEST." ~ column ~ " >= {{ window_bucket_start(" ~ bucket_seconds ~ ") }}" ~ offset
              ~ " and DBT_INTERNAL_DEST." ~ column ~ " < {{ bucket_window_end(" ~ bucket_seconds ~ ") }}" ~ offset) }}
{%- endmacro %}

{% macro check_build_window() -%}
    {#- on-run-start: validates the window before any model runs (window_bound reads it only at
        execution, so a malformed value would otherwise surface at the first windowed model). -#}
    {%- if execute -%}
        {%- do window_bounds() -%}
    {%- endif -%}
{%- endmacro %}
