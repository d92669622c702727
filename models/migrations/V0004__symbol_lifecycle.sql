-- Symbol lifecycle: each contract moves through discovery -> evaluation -> active ->
-- replacement_candidate -> retired (and back to evaluation), or to delisted from any state.
-- The allowed transitions are data; an append-only log records every transition with who made
-- it and why, and the current state of a symbol is its latest logged transition. A trigger
-- rejects any transition that is not allowed or does not start from the symbol's current state.

create schema if not exists lifecycle;
comment on schema lifecycle is 'Symbol lifecycle state machine: states, allowed transitions, the transition log.';

create table lifecycle.states (
    state        text primary key,
    description  text not null check (length(description) > 0)
);
comment on table lifecycle.states is 'The states of the symbol lifecycle.';

insert into lifecycle.states (state, description) values
    ('discovery', 'Listed by the exchange and seen by the platform; not yet scored eligible.'),
    ('evaluation', 'Has had an eligible composite score; a candidate for the portfolio.'),
    ('active', 'Held by the portfolio and ranked within its top ten.'),
    ('replacement_candidate', 'Still held by the portfolio but ranked outside its top ten (kept by the keep band).'),
    ('retired', 'Removed from the portfolio.'),
    ('delisted', 'No longer listed by the exchange.');

create table lifecycle.allowed_transitions (
    from_state  text references lifecycle.states,  -- null: a symbol's first transition
    to_state    text not null references lifecycle.states,
    rule        text not null check (length(rule) > 0),
    unique nulls not distinct (from_state, to_state),
    check (from_state is distinct from to_state)
);
comment on table lifecycle.allowed_transitions is
    'Every transition the lifecycle allows (from_state null = a symbol''s first state) and the rule that makes it; anything else is rejected.';

insert into lifecycle.allowed_transitions (from_state, to_state, rule) values
    (null, 'discovery', 'the exchange lists a contract the lifecycle has not seen'),
    ('discovery', 'evaluation', 'the symbol has an eligible composite score (or is held)'),
    ('evaluation', 'active', 'the portfolio holds the symbol'),
    ('active', 'replacement_candidate', 'still held but ranked outside the top ten'),
    ('replacement_candidate', 'active', 'held and ranked within the top ten again'),
    ('active', 'retired', 'removed from the portfolio'),
    ('replacement_candidate', 'retired', 'removed from the portfolio'),
    ('retired', 'evaluation', 'eligible again after the retirement cool-down, or held again'),
    ('discovery', 'delisted', 'the exchange no longer lists the contract'),
    ('evaluation', 'delisted', 'the exchange no longer lists the contract'),
    ('active', 'delisted', 'the exchange no longer lists the contract'),
    ('replacement_candidate', 'delisted', 'the exchange no longer lists the contract'),
    ('retired', 'delisted', 'the exchange no longer lists the contract'),
    ('delisted', 'discovery', 'the exchange lists the contract again');

create table lifecycle.transitions (
    transition_id  bigint generated always as identity primary key,
    symbol         text        not null check (length(symbol) > 0),
    as_of          timestamptz not null,
    from_state     text references lifecycle.states,
    to_state       text        not null references lifecycle.states,
    reason         text        not null check (length(reason) > 0),
    run_id         text,
    recorded_by    text        not null default current_user,
    application    text        not null default coalesce(current_setting('application_name', true), ''),
    recorded_at    timestamptz not null default clock_timestamp()
);
create index transitions_symbol_ix on lifecycle.transitions (symbol, transition_id);
create index transitions_as_of_ix on lifecycle.transitions (as_of);
comment on table lifecycle.transitions is
    'Append-only log of symbol lifecycle transitions; a symbol''s latest row is its current state.';
comment on column lifecycle.transitions.as_of is 'The hour (its end) whose facts made the transition.';
comment on column lifecycle.transitions.run_id is 'Dagster run that wrote the transition.';
comment on column lifecycle.transitions.recorded_by is 'Database role that wrote it.';
comment on column lifecycle.transitions.application is 'application_name of the writing session.';

-- The current state of every symbol: its latest transition.
create view lifecycle.current_states as
select distinct on (symbol) symbol, to_state as state, as_of as since, transition_id
from lifecycle.transitions
order by symbol, transition_id desc;
comment on view lifecycle.current_states is 'Each symbol''s current lifecycle state: the to_state of its latest transition.';

-- One row per hour the lifecycle asset has evaluated: a re-run of the hour writes nothing.
create table lifecycle.evaluated_hours (
    as_of              timestamptz primary key,
    algorithm_version  text        not null,
    run_id             text,
    transitions        integer     not null check (transitions >= 0),
    evaluated_at       timestamptz not null default clock_timestamp()
);
comment on table lifecycle.evaluated_hours is 'Hours whose lifecycle transitions were applied (append-only).';

-- A transition must start from the symbol's current state (none for its first), be allowed,
-- and not go back in time. Serialised per symbol, so two writers cannot both move a symbol
-- from the same state.
create or replace function lifecycle.assert_transition() returns trigger
language plpgsql
as $$
declare
    current_state text;
    current_as_of timestamptz;
begin
    perform pg_advisory_xact_lock(hashtext('lifecycle.transitions'), hashtext(new.symbol));
    select t.to_state, t.as_of into current_state, current_as_of
    from lifecycle.transitions t
    where t.symbol = new.symbol
    order by t.transition_id desc
    limit 1;
    if not exists (
        select 1 from lifecycle.allowed_transitions a
        where a.from_state is not distinct from new.from_state and a.to_state = new.to_state
    ) then
        raise exception 'illegal lifecycle transition for symbol %: % -> % is not in lifecycle.allowed_transitions',
            new.symbol, coalesce(new.from_state, '(none)'), new.to_state
            using errcode = 'check_violation';
    end if;
    if new.from_state is distinct from current_state then
        raise exception 'illegal lifecycle transition for symbol %: % -> %, but its current state is %',
            new.symbol, coalesce(new.from_state, '(none)'), new.to_state, coalesce(current_state, '(none)')
            using errcode = 'check_violation';
    end if;
    if new.as_of < current_as_of then
        raise exception 'lifecycle transition for symbol % (% -> %) at % is earlier than its latest transition at %',
            new.symbol, coalesce(new.from_state, '(none)'), new.to_state, new.as_of, current_as_of
            using errcode = 'check_violation';
    end if;
    return new;
end;
$$;

create trigger transitions_are_legal
    before insert on lifecycle.transitions
    for each row execute function lifecycle.assert_transition();

-- The log and the hour ledger are a record: no row is changed or removed, by anyone (the
-- triggers fire for the table owner too; only disabling them, itself a logged DDL change, would
-- get past).
create or replace function lifecycle.refuse_change() returns trigger
language plpgsql
as $$
begin
    raise exception '% is append-only: % refused', tg_table_schema || '.' || tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

create trigger transitions_append_only
    before update or delete on lifecycle.transitions
    for each row execute function lifecycle.refuse_change();
create trigger transitions_no_truncate
    before truncate on lifecycle.transitions
    for each statement execute function lifecycle.refuse_change();
create trigger evaluated_hours_append_only
    before update or delete on lifecycle.evaluated_hours
    for each row execute function lifecycle.refuse_change();
create trigger evaluated_hours_no_truncate
    before truncate on lifecycle.evaluated_hours
    for each statement execute function lifecycle.refuse_change();
