-- The portfolio manager's use of the agents' consensus and of the trader overrides
-- (orchestration/portfolio/selection.py): every decision keeps the consensus and every agent's
-- vote of its symbol at the evaluation, copied from intermediate.int_agent_consensus_1h
-- (score_time = as_of), and the override that made it; a challenger the consensus gate kept out
-- says why on its streak row; the screening audit gains the override rule. portfolio.decisions
-- stays audited by audit.record_change (V0008): the new columns are in the before/after of its
-- audit.change_log rows like every other column.

alter table portfolio.decisions
    add column override_id      bigint,
    add column consensus_status text check (consensus_status in ('present', 'abstained', 'missing')),
    add column consensus        jsonb,
    add column votes            jsonb,
    -- decisions before this migration have none of these; one after it has the status, and the
    -- consensus and votes exactly when the model had a row (with a score exactly when present)
    add constraint decisions_consensus_recorded check (
        (consensus_status is null and consensus is null and votes is null)
        or (
            consensus_status is not null
            and (consensus_status = 'missing') = (consensus is null)
            and (consensus is null) = (votes is null)
            and (consensus_status = 'missing' or (consensus_status = 'present') = (jsonb_typeof(consensus -> 'consensus_score') = 'number'))
        )
    );
comment on column portfolio.decisions.override_id is
    'The override_id of the trader override (portfolio.overrides) that made the decision: the exclude that removed the symbol, the pin that added or held it; null otherwise. Not a foreign key: an admin may delete an override (audit.change_log keeps its rows), and the decision stays as made.';
comment on column portfolio.decisions.consensus_status is
    'The agents'' consensus of the symbol at as_of: present (int_agent_consensus_1h has a row at score_time = as_of with a weighted view), abstained (a row, but no agent with a proven edge had a view: null score), missing (no row). Never read as a score of 0. Null only for decisions recorded before V0010.';
comment on column portfolio.decisions.consensus is
    'The int_agent_consensus_1h row of the symbol at score_time = as_of: {score_time, consensus_score, consensus_confidence, agreement, is_disputed, recommendation, total_weight, voting_agent_count, weighted_agent_count}, copied as the manager read it; null when missing. For a replacement the added symbol''s row is on its add decision and the replaced symbol''s on its remove decision.';
comment on column portfolio.decisions.votes is
    'The row''s votes, copied verbatim: {agent: {score, confidence, recommendation, accuracy, weight}} for every agent, abstaining ones included; null when missing.';

alter table portfolio.challenger_streaks
    add column blocked_by     text check (blocked_by in (
        'consensus_missing', 'consensus_abstained', 'consensus_disputed', 'consensus_score', 'consensus_confidence'
    )),
    add column blocked_detail text,
    add constraint challenger_streaks_blocked_explained check ((blocked_by is null) = (blocked_detail is null));
comment on column portfolio.challenger_streaks.blocked_by is
    'Why a challenger due to replace the weakest holding (streak >= K, margin met, fits the other nine) was not swapped in: its consensus at as_of was missing or abstained (policy challenger_without_consensus = block), disputed, below challenger_min_consensus_score or below challenger_min_consensus_confidence. Null when it was not due.';
comment on column portfolio.challenger_streaks.blocked_detail is 'The consensus measured and the policy limit that blocked it, in words.';

alter table portfolio.screening drop constraint screening_rule_check;
alter table portfolio.screening add constraint screening_rule_check check (rule in (
    'eligible', 'listed', 'min_turnover_24h_quote', 'min_listing_age_hours', 'sector_cap', 'max_pairwise_correlation', 'override'
));
comment on column portfolio.screening.rule is
    'The constraint: eligible, listed, min_turnover_24h_quote, min_listing_age_hours, sector_cap, max_pairwise_correlation; override (since V0010) for a symbol with a trader override in force at as_of: passed false when excluded, true when pinned (detail names the override and whether the pin was honoured).';

comment on column portfolio.evaluations.relaxations is
    'Constraints dropped to find ten holdings, in the order they were relaxed, then (since V0010) the constraints in force that a pinned holding breaks (the pin wins; its decision names the rule); empty: none.';
