-- Findings of the GX gates on derived layers (staging, intermediate, marts): the rows a blocking
-- check flagged, with the suite, expectation and rule they broke. Unlike the raw layer, where a
-- flagged row is moved into quarantine.<table>, a derived row stays in place (a rebuild would only
-- recompute it from the same inputs): the failed check stops what depends on it, and this table
-- says which rows and why.

create table quarantine.gate_findings (
    finding_id    bigint generated always as identity primary key,
    layer         text        not null check (layer in ('raw', 'staging', 'intermediate', 'marts', 'portfolio')),
    suite         text        not null check (length(suite) > 0),
    expectation   text        not null check (length(expectation) > 0),  -- the GX expectation type
    rule          text        not null check (length(rule) > 0),         -- the expectation's meta.rule
    reason        text        not null check (length(reason) > 0),       -- the expectation's description
    window_start  timestamptz not null,
    window_end    timestamptz not null check (window_end > window_start),
    run_id        text,
    record        jsonb       not null,  -- the flagged row: key columns and the values that broke the rule
    found_at      timestamptz not null default clock_timestamp()
);
create index gate_findings_suite_ix on quarantine.gate_findings (suite, window_start);
comment on table quarantine.gate_findings is
    'Rows of a derived layer a GX gate flagged (they stay in place): suite, expectation, rule, reason and the row.';
