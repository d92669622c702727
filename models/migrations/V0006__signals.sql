-- Trading signals from files (technical alerts, news, social posts, on-chain notes), their
-- quarantine, and the sentiment of their texts. Loaded by orchestration/ingestion/signals.py.

-- Near-duplicate texts are found with trigram similarity (int_signal_events). pg_trgm is a
-- trusted extension: the database owner may create it.
create extension if not exists pg_trgm with schema public;

-- One row per signal, first accepted version wins (natural key: the source's own id). The
-- provenance columns (source_file, source_sha256, source_line, batch_id) say where the row was
-- first read; they are not part of its content: the same signal in a later file is unchanged.
create table raw.signals (
    source         text             not null,
    external_id    text             not null,
    kind           text             not null check (kind in ('technical', 'news', 'social', 'onchain')),
    symbol         text             not null,
    direction      text             not null check (direction in ('long', 'short', 'neutral')),
    confidence     double precision not null check (confidence >= 0 and confidence <= 1),
    text           text,
    published_at   timestamptz      not null,
    received_at    timestamptz      not null,
    source_file    text             not null,
    source_sha256  text             not null check (source_sha256 ~ '^[0-9a-f]{64}$'),
    source_line    integer          not null check (source_line >= 1),
    batch_id       bigint           not null,
    primary key (source, external_id),
    constraint signals_received_after_published_ck check (received_at >= published_at),
    constraint signals_text_required_ck check (kind = 'technical' or text is not null)
);
create index signals_symbol_published_ix on raw.signals (symbol, published_at);
create index signals_received_ix on raw.signals (received_at);
comment on table raw.signals is
    'Signals read from JSONL/CSV files (zmart signals import, the signals drop-folder sensor); first accepted version of (source, external_id) wins.';
comment on column raw.signals.published_at is 'When the source published the signal (its own clock, as given in the file).';
comment on column raw.signals.received_at is 'When the feed delivered it to us, as given in the file: what the signal can be acted on from.';
comment on column raw.signals.source_line is 'Physical line (1-based) of the file where the record starts (CSV: after the header line 1).';

-- Sentiment of each text by an offline lexicon model, one row per signal and model version:
-- a new model version adds rows and never rewrites the signals.
create table raw.signal_sentiment (
    source         text             not null,
    external_id    text             not null,
    model          text             not null,
    model_version  text             not null,
    compound       double precision not null check (compound >= -1 and compound <= 1),
    positive       double precision not null check (positive >= 0 and positive <= 1),
    neutral        double precision not null check (neutral >= 0 and neutral <= 1),
    negative       double precision not null check (negative >= 0 and negative <= 1),
    batch_id       bigint           not null,
    primary key (source, external_id, model, model_version),
    foreign key (source, external_id) references raw.signals on delete cascade
);
comment on table raw.signal_sentiment is
    'VADER scores of raw.signals.text (model vaderSentiment, version = the installed package version), computed at load.';
comment on column raw.signal_sentiment.compound is
    'VADER compound score: the normalised sum of the lexicon valences, x / sqrt(x^2 + 15), in [-1, 1].';

create table quarantine.signals (
    quarantine_id   bigint generated always as identity primary key,
    batch_id        bigint      not null,
    stage           text        not null check (stage in ('load', 'gate')),
    rule            text        not null,
    detail          text,
    symbol          text,
    published_at    timestamptz,
    record          jsonb       not null,
    source_file     text        not null,
    source_sha256   text        not null,
    source_line     integer     not null,
    quarantined_at  timestamptz not null default clock_timestamp()
);
create index quarantine_signals_batch_ix on quarantine.signals (batch_id);
create index quarantine_signals_file_ix on quarantine.signals (source_sha256, source_line);
comment on table quarantine.signals is
    'Every refused signal record with the file, line and rule it broke (a file that cannot be read at all is refused whole, not quarantined).';
