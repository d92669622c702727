"""Gate on the portfolio manager's evaluations in a window: one per hour, exactly ten holdings each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import great_expectations as gx

from quality.gate import SuiteSpec

NAME = "portfolio_composition"
KEY_COLUMNS = ("evaluation_id", "symbol")


def suite(start: datetime, end: datetime, algorithm_version: str = "v1") -> SuiteSpec:
    """Evaluations with as_of in (start, end]: the hour buckets starting in [start, end) are decided at their end."""
    hours = int((end - start) / timedelta(hours=1))
    s, e = _literal(start), _literal(end)
    version = algorithm_version.replace("'", "''")
    query = f"""
        select c.evaluation_id, e.as_of, c.symbol, c.position, c.weight::double precision as weight, c.composite_score
        from portfolio.composition c
        join portfolio.evaluations e using (evaluation_id)
        where e.as_of > '{s}' and e.as_of <= '{e}' and e.algorithm_version = '{version}'
    """
    expect = gx.expectations
    return SuiteSpec(
        name=NAME,
        batch_query=query,
        expectations=[
            expect.ExpectColumnUniqueValueCountToBeBetween(
                column="evaluation_id", min_value=hours, max_value=hours, meta={"rule": "one_evaluation_per_hour"}
            ),
            expect.UnexpectedRowsExpectation(
                unexpected_rows_query="select evaluation_id, count(*) as holdings from {batch} group by evaluation_id having count(*) <> 10",
                description="Every evaluation holds exactly ten symbols.",
                meta={"rule": "exactly_ten_holdings"},
            ),
            expect.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select evaluation_id, sum(weight) as total from {batch} group by evaluation_id "
                    "having abs(sum(weight) - 1) > 1e-9"
                ),
                description="The weights of every evaluation sum to 1.",
                meta={"rule": "weights_sum_to_one"},
            ),
            expect.ExpectCompoundColumnsToBeUnique(column_list=list(KEY_COLUMNS), meta={"rule": "symbol_once_per_evaluation"}),
            expect.ExpectColumnValuesToBeBetween(
                column="weight", min_value=0, max_value=1, strict_min=True, meta={"rule": "weight_in_unit_interval"}
            ),
            expect.ExpectColumnValuesToNotBeNull(column="composite_score", meta={"rule": "holding_is_scored"}),
        ],
        key_columns=KEY_COLUMNS,
    )


def _literal(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
