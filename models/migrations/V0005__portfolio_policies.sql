-- Constrained portfolio manager: each evaluation records the policy, the market regime and the
-- constraint set in force (and its hash), the relaxations it needed and the weighting applied;
-- the screening audit holds every constraint measured for every symbol considered, and the
-- challenger streaks carry the replacement rule's state from one evaluation to the next. All
-- are written in the evaluation's transaction.

alter table portfolio.evaluations
    add column policy            text,
    add column regime            text check (regime in ('risk_on', 'neutral', 'risk_off', 'unknown')),
    add column policy_parameters jsonb,
    add column policy_hash       text check (policy_hash ~ '^[0-9a-f]{32}$'),
    add column relaxations       text[] not null default '{}',
    add column weighting         text check (weighting in ('equal', 'inverse_vol', 'score')),
    add column weighting_note    text,
    -- evaluations before this migration have none of these; a policy evaluation has all of them
    add constraint evaluations_policy_recorded check (num_nulls(policy, regime, policy_parameters, policy_hash) in (0, 4)),
    -- weights exist only for a formed evaluation of a policy
    add constraint evaluations_weighting_when_formed check (
        (weighting is null) = (outcome = 'not_formed' or policy is null) and (weighting_note is null or weighting is not null)
    ),
    add constraint evaluations_relaxations_known check (
        relaxations <@ array['max_pairwise_correlation', 'sector_cap', 'min_listing_age_hours', 'min_turnover_24h_quote']
    );
comment on column portfolio.evaluations.policy is 'Policy of seed portfolio_policies the evaluation followed (null before V0005).';
comment on column portfolio.evaluations.regime is
    'Market regime of intermediate.int_market_regime_1h for the hour ending at as_of; unknown when it has no row (the neutral constraints apply).';
comment on column portfolio.evaluations.policy_parameters is 'The policy row in force (its regime and every limit), as JSON.';
comment on column portfolio.evaluations.policy_hash is 'md5 of policy_parameters as canonical JSON (sorted keys).';
comment on column portfolio.evaluations.relaxations is
    'Constraints dropped to find ten holdings, in the order they were relaxed (empty: none).';
comment on column portfolio.evaluations.weighting is 'Weighting applied: the policy''s, or equal when it was undefined (weighting_note says why).';
comment on column portfolio.evaluations.weighting_note is 'Why the policy''s weighting fell back to equal weights; null when it did not.';

create table portfolio.screening (
    evaluation_id  bigint           not null references portfolio.evaluations on delete restrict,
    symbol         text             not null,
    rule           text             not null check (rule in (
        'eligible', 'listed', 'min_turnover_24h_quote', 'min_listing_age_hours', 'sector_cap', 'max_pairwise_correlation'
    )),
    measured       double precision,
    limit_value    double precision,
    passed         boolean          not null,
    detail         text             not null check (length(detail) > 0),
    primary key (evaluation_id, symbol, rule),
    check (rule not in ('eligible', 'listed') or limit_value is null)
);
comment on table portfolio.screening is
    'Screening audit: per formed evaluation, symbol considered (scored at as_of, or held before) and constraint, the measured value, the limit in force and whether it passed.';
comment on column portfolio.screening.measured is
    'The value measured at as_of: composite score (eligible), 24h quote turnover, listing age in hours, holdings of the symbol''s sector counting it (sector_cap), its largest correlation with the other holdings; null when not measurable.';
comment on column portfolio.screening.limit_value is 'The limit in force; null when the rule was relaxed or has no numeric limit (eligible, listed).';

create table portfolio.challenger_streaks (
    evaluation_id    bigint           not null references portfolio.evaluations on delete restrict,
    symbol           text             not null,
    streak           integer          not null check (streak >= 1),
    composite_score  double precision not null,
    weakest_symbol   text             not null,
    weakest_score    double precision not null,
    primary key (evaluation_id, symbol),
    check (symbol <> weakest_symbol)
);
comment on table portfolio.challenger_streaks is
    'Symbols not held whose composite beat the weakest holding by the challenger margin, with the number of consecutive evaluations they have (a broken streak has no row).';
