-- Portfolio manager state: one evaluation per hour and algorithm version, its composition of
-- exactly ten symbols and one decision per symbol considered, all written in one transaction.

create schema if not exists portfolio;
comment on schema portfolio is 'Operational state written by the portfolio manager asset.';

create table portfolio.evaluations (
    evaluation_id      bigint generated always as identity primary key,
    as_of              timestamptz not null,
    algorithm_version  text        not null,
    run_id             text,
    universe_size      integer     not null check (universe_size >= 10),
    score_batch_ids    bigint[]    not null default '{}',
    created_at         timestamptz not null default clock_timestamp(),
    unique (as_of, algorithm_version)
);
comment on table portfolio.evaluations is
    'One portfolio evaluation per hour (as_of = end of the hour whose scores were used) and scoring algorithm version.';
comment on column portfolio.evaluations.score_batch_ids is 'Raw load batches behind the scores the evaluation used.';

create table portfolio.composition (
    evaluation_id    bigint           not null references portfolio.evaluations on delete restrict,
    symbol           text             not null,
    position         smallint         not null check (position between 1 and 10),
    weight           numeric(20, 18)  not null check (weight > 0 and weight <= 1),
    composite_score  double precision not null,
    primary key (evaluation_id, symbol),
    unique (evaluation_id, position)
);
comment on table portfolio.composition is 'The ten symbols held after each evaluation, with weights summing to 1.';

create table portfolio.decisions (
    decision_id      bigint generated always as identity primary key,
    evaluation_id    bigint           not null references portfolio.evaluations on delete restrict,
    symbol           text             not null,
    action           text             not null check (action in ('add', 'remove', 'hold')),
    reason           text             not null check (length(reason) > 0),
    composite_score  double precision,
    score_rank       integer,
    details          jsonb            not null default '{}'::jsonb,
    unique (evaluation_id, symbol)
);
comment on table portfolio.decisions is
    'Why each symbol entered, left or stayed in the portfolio at each evaluation.';

-- Exactly ten holdings whose weights sum to 1, checked at commit so the writer can insert
-- the evaluation and its rows in any order inside one transaction.
create or replace function portfolio.assert_composition() returns trigger
language plpgsql
as $$
declare
    eval_id  bigint := coalesce(new.evaluation_id, old.evaluation_id);
    n        integer;
    total    numeric;
begin
    if not exists (select 1 from portfolio.evaluations where evaluation_id = eval_id) then
        return null;  -- evaluation deleted in the same transaction; nothing to check
    end if;
    select count(*), coalesce(sum(weight), 0) into n, total
    from portfolio.composition where evaluation_id = eval_id;
    if n <> 10 then
        raise exception 'portfolio evaluation % holds % symbols; exactly 10 are required', eval_id, n
            using errcode = 'check_violation';
    end if;
    if abs(total - 1) > 1e-12 then
        raise exception 'portfolio evaluation % weights sum to %, not 1', eval_id, total
            using errcode = 'check_violation';
    end if;
    return null;
end;
$$;

create constraint trigger composition_exactly_ten
    after insert or update or delete on portfolio.composition
    deferrable initially deferred
    for each row execute function portfolio.assert_composition();

create constraint trigger evaluation_has_composition
    after insert on portfolio.evaluations
    deferrable initially deferred
    for each row execute function portfolio.assert_composition();
