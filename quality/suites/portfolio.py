"""Gate on the portfolio manager's evaluations in a window: one per hour; a formed one holds
exactly ten symbols whose weights sum to 1; a not-formed one holds nothing and only precedes the
version's first portfolio; no holding fails a constraint in force by the manager's own screening
audit (a relaxed constraint has no limit there)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import great_expectations as gx

from quality.gate import SuiteSpec, sql_literal, unexpected_rows

NAME = "portfolio_composition"
KEY_COLUMNS = ("evaluation_id", "symbol")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def suite(start: datetime, end: datetime, algorithm_version: str = "v1") -> SuiteSpec:
    """Evaluations with as_of in (start, end]: the hour buckets starting in [start, end) are decided at their end."""
    if not _VERSION.match(algorithm_version):
        raise ValueError(f"algorithm version {algorithm_version!r}: expected a name such as v1 (letters, digits, '.', '_', '-')")
    hours = int((end - start) / timedelta(hours=1))
    s, e = sql_literal(start), sql_literal(end)
    # One row per holding, and one row with no holding for an evaluation that holds nothing.
    query = f"""
        select e.evaluation_id, e.as_of, e.algorithm_version, e.outcome, c.symbol, c.position,
               c.weight::double precision as weight, c.composite_score
        from portfolio.evaluations e
        left join portfolio.composition c using (evaluation_id)
        where e.as_of > {s} and e.as_of <= {e} and e.algorithm_version = {sql_literal(algorithm_version)}
    """
    expect = gx.expectations
    return SuiteSpec(
        name=NAME,
        batch_query=query,
        expectations=[
            expect.ExpectColumnUniqueValueCountToBeBetween(
                column="evaluation_id", min_value=hours, max_value=hours, meta={"rule": "one_evaluation_per_hour"}
            ),
            unexpected_rows(
                "exactly_ten_holdings",
                "A formed evaluation holds exactly ten symbols; a not-formed one holds none.",
                "select evaluation_id, outcome, count(symbol) as holdings from {batch} group by evaluation_id, outcome "
                "having count(symbol) <> case outcome when 'formed' then 10 else 0 end",
            ),
            unexpected_rows(
                "weights_sum_to_one",
                "The weights of every formed evaluation sum to 1.",
                "select evaluation_id, sum(weight) as total from {batch} where outcome = 'formed' "
                "group by evaluation_id having abs(sum(weight) - 1) > 1e-9",
            ),
            unexpected_rows(
                "not_formed_only_in_warmup",
                "An evaluation is only left not formed before the version's first portfolio.",
                "select window_rows.evaluation_id, window_rows.as_of, min(formed.as_of) as first_formed_at "
                "from {batch} as window_rows "
                "join portfolio.evaluations formed on formed.algorithm_version = window_rows.algorithm_version "
                "and formed.outcome = 'formed' and formed.as_of < window_rows.as_of "
                "where window_rows.outcome = 'not_formed' group by window_rows.evaluation_id, window_rows.as_of",
            ),
            expect.ExpectCompoundColumnsToBeUnique(column_list=list(KEY_COLUMNS), meta={"rule": "symbol_once_per_evaluation"}),
            expect.ExpectColumnValuesToBeBetween(
                column="weight", min_value=0, max_value=1, strict_min=True, meta={"rule": "weight_in_unit_interval"}
            ),
            unexpected_rows(
                "holding_passes_constraints_in_force",
                "No holding fails a constraint that was in force (not relaxed) in its evaluation's screening audit.",
                "select window_rows.evaluation_id, window_rows.symbol, screening.rule, screening.measured, screening.limit_value "
                "from {batch} as window_rows "
                "join portfolio.screening screening on screening.evaluation_id = window_rows.evaluation_id "
                "and screening.symbol = window_rows.symbol "
                "where not screening.passed",
            ),
            unexpected_rows(
                "holding_is_scored",
                "Every holding has the composite score it was chosen on.",
                "select evaluation_id, symbol from {batch} where symbol is not null and composite_score is null",
            ),
        ],
        key_columns=KEY_COLUMNS,
    )
