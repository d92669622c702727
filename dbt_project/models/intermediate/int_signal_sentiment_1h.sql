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
-- The signals' reliability-weighted sentiment per contract and UTC hour: the contract the
-- scores read (join on symbol and bucket_start; no row = no signal that hour).
--
-- An event (int_signal_events) belongs to the hour of its first receipt, and counts there once,
-- with its members received in that hour (a repost received in a later hour adds nothing: the
-- event was already counted). For member i, with d_i its direction sign, c_i its confidence
-- and v_i the VADER compound score of its text:
--   stance m_i = d_i x c_i without text, (d_i x c_i + v_i) / 2 with text   (in [-1, 1])
--   weight w_i = reliability_weight of its source at as_of = bucket_start
--                (int_signal_source_reliability: outcomes known before the hour began; 0 when
--                the source has no row there, i.e. no history)
-- For event E: s_E = mean of m_i, w_E = max of w_i (an echo adds no information of its own).
-- For the hour:
--   sentiment  = sum(w_E x s_E) / sum(w_E)   in [-1, 1]; null when sum(w_E) = 0 (no reliable source)
--   confidence = 1 - prod(1 - w_E)            in [0, 1): 0 when no source is reliable
-- input_batch_ids (lineage, macros/lineage.sql) = the union of the batch_ids of the members the
-- hour counts (int_signal_event_members: each one's signal row and text score): a duplicate
-- received in the hour adds its batches to its event's, one received later adds nothing. The
-- weights w_i are declared as a lineage reference (YAML meta.lineage: int_signal_source_reliability at
-- (source, as_of = bucket_start)), resolved at trace time by `zmart lineage trace`.
-- Window: the hours in the build window; reads the events first received in it, their members
-- and one reliability row per member.

with window_events as (
    select event_id, symbol, date_trunc('hour', first_received_at) as bucket_start
    from {{ ref("int_signal_events") }}
    where {{ in_build_window("first_received_at") }}
),

weighted_members as (
    select
        window_events.event_id,
        window_events.symbol,
        window_events.bucket_start,
        members.source,
        case when signals.text_sentiment is null then signals.direction_sign * signals.confidence
             else (signals.direction_sign * signals.confidence + signals.text_sentiment) / 2 end as stance,
        coalesce(reliability.reliability_weight, 0) as weight,
        members.batch_ids
    from window_events
    inner join {{ ref("int_signal_event_members") }} as members on members.event_id = window_events.event_id
    inner join {{ ref("stg_signals__signals") }} as signals on signals.signal_id = members.signal_id
    left join {{ ref("int_signal_source_reliability") }} as reliability
        on reliability.source = members.source
        and reliability.as_of = window_events.bucket_start
    where date_trunc('hour', members.received_at) = window_events.bucket_start
),

scored_events as (
    select event_id, symbol, bucket_start, avg(stance) as stance, max(weight) as weight, count(*) as signal_count
    from weighted_members
    group by event_id, symbol, bucket_start
),

hour_sources as (
    select symbol, bucket_start, count(distinct source) as source_count, {{ union_batch_ids("batch_ids") }} as input_batch_ids
    from weighted_members
    group by symbol, bucket_start
),

hour_events as (
    select
        symbol,
        bucket_start,
        (sum(weight * stance) / nullif(sum(weight), 0))::double precision as sentiment,
        (1 - exp(sum(ln(1 - weight))))::double precision as confidence,
        count(*) as event_count,
        sum(signal_count)::bigint as signal_count,
        sum(weight)::double precision as total_weight
    from scored_events
    group by symbol, bucket_start
)

select
    hour_events.symbol,
    hour_events.bucket_start,
    hour_events.sentiment,
    hour_events.confidence,
    hour_events.event_count,
    hour_events.signal_count,
    hour_sources.source_count,
    hour_events.total_weight,
    hour_sources.input_batch_ids
from hour_events
inner join hour_sources using (symbol, bucket_start)
