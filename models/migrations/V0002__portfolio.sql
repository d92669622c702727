-- Portfolio manager state: one evaluation per hour and algorithm version, its composition of
-- exactly ten symbols and one decision per symbol considered, all written in one transaction.

create schema if not exists portfolio;
comment on schema portfolio is 'Operational state written by the portfolio manager asset.';

create table portfolio.evaluations (
    evaluation_id      bigint generated always as identity primary key,
    as_of              timestamptz not null,
    algorithm_version  text        not null,
    run_id             text,
    universe_size      integer     not null check (universe_size >= 0),
    eligible_count     integer     not null check (eligible_count between 0 and universe_size),
    outcome            text        not null check (outcome in ('formed', 'not_formed')),
    outcome_reason     text        not null check (length(outcome_reason) > 0),
    score_batch_ids    bigint[]    not null default '{}',
    created_at         timestamptz not null default clock_timestamp(),
    unique (as_of, algorithm_version),
    -- a portfolio needs ten eligible symbols; fewer can only leave it not formed
    check (outcome = 'not_formed' or eligible_count >= 10)
);
comment on table portfolio.evaluations is
    'One portfolio evaluation per hour (as_of = end of the hour whose scores were used) and scoring algorithm version.';
comment on column portfolio.evaluations.outcome is
    'formed: ten holdings were chosen. not_formed: no portfolio could be formed (before the first one, while fewer than ten symbols are eligible); it holds nothing and outcome_reason says why.';
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

-- A formed evaluation holds exactly ten symbols whose weights sum to 1, a not-formed one holds
-- none; checked at commit so the writer can insert the evaluation and its rows in any order
-- inside one transaction.
create or replace function portfolio.assert_composition() returns trigger
language plpgsql
as $$
declare
    eval_id   bigint := coalesce(new.evaluation_id, old.evaluation_id);
    eval_outcome text;
    n         integer;
    total     numeric;
begin
    select e.outcome into eval_outcome from portfolio.evaluations e where e.evaluation_id = eval_id;
    if not found then
        return null;  -- evaluation deleted in the same transaction; nothing to check
    end if;
    select count(*), coalesce(sum(weight), 0) into n, total
    from portfolio.composition where evaluation_id = eval_id;
    if eval_outcome = 'not_formed' then
        if n <> 0 then
            raise exception 'portfolio evaluation % was not formed but holds % symbols', eval_id, n
                using errcode = 'check_violation';
        end if;
        return null;
    end if;
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

-- "Not formed" is the warm-up before a version's first portfolio; once one exists, an hour
-- without ten eligible symbols is an error to investigate, not an evaluation to record.
create or replace function portfolio.assert_not_formed_only_in_warmup() returns trigger
language plpgsql
as $$
begin
    if new.outcome = 'not_formed' and exists (
        select 1 from portfolio.evaluations e
        where e.algorithm_version = new.algorithm_version and e.outcome = 'formed' and e.as_of < new.as_of
    ) then
        raise exception 'portfolio evaluation at % (%) cannot be not_formed: a portfolio of this version was already formed earlier',
            new.as_of, new.algorithm_version
            using errcode = 'check_violation';
    end if;
    return new;
end;
$$;

create trigger evaluation_not_formed_only_in_warmup
    before insert on portfolio.evaluations
    for each row execute function portfolio.assert_not_formed_only_in_warmup();
