{{
    config(
        indexes=[
            {"columns": ["event_id"], "unique": true},
            {"columns": ["symbol", "first_received_at"]},
        ],
    )
}}
-- One row per event (a cluster of near-duplicate signals, int_signal_event_members): counted
-- once, with its members, their sources and the span of their publication and receipt, and
-- batch_ids = the union of every member's batches (macros/lineage.sql union_batch_ids).
-- Rebuilt whole with int_signal_event_members.

select
    members.event_id,
    min(members.symbol) as symbol,
    min(members.direction) as direction,
    min(signals.direction_sign) as direction_sign,
    count(*) as member_count,
    count(distinct members.source) as source_count,
    array_agg(distinct members.source order by members.source) as sources,
    min(members.published_at) as first_published_at,
    max(members.published_at) as last_published_at,
    min(members.received_at) as first_received_at,
    max(signals.confidence) as max_confidence,
    avg(signals.text_sentiment) as mean_text_sentiment,
    {{ union_batch_ids("members.batch_ids") }} as batch_ids
from {{ ref("int_signal_event_members") }} as members
inner join {{ ref("stg_signals__signals") }} as signals on signals.signal_id = members.signal_id
group by members.event_id
