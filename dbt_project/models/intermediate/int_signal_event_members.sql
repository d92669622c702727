{%- set p = signals_parameters() -%}
{{
    config(
        indexes=[
            {"columns": ["signal_id"], "unique": true},
            {"columns": ["event_id"]},
            {"columns": ["symbol", "received_at"]},
        ],
    )
}}
-- Every signal of a known symbol with the event it belongs to. Two signals are near-duplicates
-- when they have the same symbol and direction, were published at most
-- {{ p["event_window_minutes"] }} minutes apart (var signals.event_window_minutes), and either
-- both have no text or their texts have a pg_trgm similarity of at least {{ p["text_similarity"] }}
-- (var signals.text_similarity; similarity = shared distinct trigrams / distinct trigrams of
-- either text, the words lower-cased and padded, F.4.1 of the PostgreSQL 15 pg_trgm manual).
-- An event is a connected component of that relation (single linkage: a chain of
-- near-duplicates is one event), so the clustering does not depend on the order signals are
-- read in; event_id is the signal_id of its earliest-published member (ties: the smallest
-- signal_id).
--
-- Materialized as a table, rebuilt whole: a chain can link signals across any window, so an
-- event cannot be rebuilt from one window's rows. The work is a self-join within
-- (symbol, direction, {{ p["event_window_minutes"] }} minutes) plus the components' closure
-- (the sum over events of members squared): signals are thousands a day, not millions.
-- batch_ids: the member's own (stg_signals__signals.batch_ids: its row and its text's score).

with recursive signals as (
    select signal_id, source, symbol, direction, text, published_at, received_at, batch_ids
    from {{ ref("stg_signals__signals") }}
    where is_known_symbol
),

near_duplicates as (
    select earlier.signal_id as from_id, later.signal_id as to_id
    from signals as earlier
    inner join signals as later
        on later.symbol = earlier.symbol
        and later.direction = earlier.direction
        and later.published_at >= earlier.published_at - interval '{{ p["event_window_minutes"] }} minutes'
        and later.published_at <= earlier.published_at + interval '{{ p["event_window_minutes"] }} minutes'
        and later.signal_id <> earlier.signal_id
    where (earlier.text is null and later.text is null)
       or public.similarity(earlier.text, later.text) >= {{ p["text_similarity"] }}
),

reachable (signal_id, reached_from) as (
    -- every signal reaches itself; the relation is symmetric, so what reaches a signal is its component
    select signal_id, signal_id from signals
    union
    select near_duplicates.to_id, reachable.reached_from
    from reachable
    inner join near_duplicates on near_duplicates.from_id = reachable.signal_id
),

event_of as (
    select distinct on (reachable.signal_id)
        reachable.signal_id,
        reachable.reached_from as event_id
    from reachable
    inner join signals as first_member on first_member.signal_id = reachable.reached_from
    order by reachable.signal_id, first_member.published_at, first_member.signal_id
)

select
    event_of.event_id,
    signals.signal_id,
    signals.source,
    signals.symbol,
    signals.direction,
    signals.published_at,
    signals.received_at,
    event_of.signal_id = event_of.event_id as is_first_member,
    signals.batch_ids
from event_of
inner join signals on signals.signal_id = event_of.signal_id
