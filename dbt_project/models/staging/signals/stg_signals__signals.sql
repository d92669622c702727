{%- set p = signals_parameters() -%}
-- One row per accepted signal, with its direction as a sign, its delivery latency, the VADER
-- compound score of its text (model version var signals.sentiment_model_version) and whether a
-- contract of its symbol is known (any snapshot of stg_kucoin__contracts). batch_ids (lineage,
-- macros/lineage.sql): the load batches of the signal row and of its text's sentiment score.
select
    signals.source,
    signals.external_id,
    signals.source || ':' || signals.external_id as signal_id,
    signals.kind,
    signals.symbol,
    signals.direction,
    case signals.direction when 'long' then 1 when 'short' then -1 else 0 end as direction_sign,
    signals.confidence,
    signals.text,
    signals.published_at,
    signals.received_at,
    extract(epoch from signals.received_at - signals.published_at)::double precision as delivery_latency_seconds,
    sentiment.compound as text_sentiment,
    exists (
        select from {{ ref("stg_kucoin__contracts") }} as contracts where contracts.symbol = signals.symbol
    ) as is_known_symbol,
    signals.source_file,
    signals.source_line,
    signals.batch_id,
    zmart_fn.sorted_distinct(array[signals.batch_id, sentiment.batch_id]) as batch_ids
from {{ source("signals", "signals") }} as signals
left join {{ source("signals", "signal_sentiment") }} as sentiment
    on sentiment.source = signals.source
    and sentiment.external_id = signals.external_id
    and sentiment.model = 'vaderSentiment'
    and sentiment.model_version = '{{ p["sentiment_model_version"] }}'
