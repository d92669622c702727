"""`zmart report compliance` against a real warehouse (the shared portfolio build, plus overrides,
quarantined rows and an audited override change written here): every number the HTML shows is
recomputed from the tables, for the whole history and for a period that cuts it (what lies
outside [--from, --to) must not be counted)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from orchestration.cli import main
from tests.integration.dbt import synthetic
from tests.integration.dbt.conftest import BuiltDatabase, Portfolio
from tests.integration.dbt.dbt_cli import Dbt, fetch
from tests.integration.dbt.synthetic_portfolio import POLICY_AS_OF, add_policy_evaluation

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Warehouse:
    url: str
    home: Path
    everything: tuple[datetime, datetime]  # a period holding every row written


class Tables(HTMLParser):
    """The report's tables, keyed by the id of the h2 heading before them: a list of tables, each
    a list of rows of cell texts (the header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.section = ""
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self.section = dict(attrs).get("id") or ""
        elif tag == "table":
            self.tables.setdefault(self.section, []).append([])
        elif tag == "tr":
            self.tables[self.section][-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.tables[self.section][-1][-1].append(html.unescape("".join(self.cell)))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


# a decision of the second day given the consensus record the manager writes (the shared
# history's hand-made decisions have none: consensus_status null, shown as an empty cell)
VOTES = {
    "technical": {"score": 0.625, "confidence": 0.8, "recommendation": "buy", "accuracy": 0.75, "weight": 0.4},
    "market_structure": {"score": None, "confidence": 0.0, "recommendation": "abstain", "accuracy": 0.5, "weight": 0.0},
}
CONSENSUS_CELL = "present (score 0.625, confidence 0.24): market_structure abstain; technical buy 0.625 (weight 0.4)"


def record_consensus(url: str) -> None:
    with psycopg.connect(url) as conn:
        decision = conn.execute(
            "select d.decision_id, e.as_of from portfolio.decisions d join portfolio.evaluations e using (evaluation_id) "
            "where e.as_of >= %s order by e.as_of, d.decision_id limit 1", (synthetic.START + 24 * HOUR,),
        ).fetchone()
        assert decision is not None
        consensus = {
            "score_time": decision[1].isoformat(), "consensus_score": 0.625, "consensus_confidence": 0.24, "agreement": 1.0,
            "is_disputed": False, "recommendation": "buy", "total_weight": 0.4, "voting_agent_count": 1, "weighted_agent_count": 1,
        }
        conn.execute(
            "update portfolio.decisions set consensus_status = 'present', consensus = %s, votes = %s where decision_id = %s",
            (Jsonb(consensus), Jsonb(VOTES), decision[0]),
        )


@pytest.fixture(scope="module")
def warehouse(portfolio_built: BuiltDatabase[Portfolio], tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    url, _ = portfolio_built.clone()
    record_consensus(url)
    add_policy_evaluation(url, Dbt(url, tmp_path_factory.mktemp("dbt")))  # rebuilds the portfolio marts
    start = synthetic.START
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into portfolio.overrides (symbol, action, valid_from, valid_to, reason) values "
            "('DOGEUSDTM', 'exclude', %s, %s, 'ended before the first hour'), "
            "('ETHUSDTM', 'pin', %s, %s, 'pinned for a day'), "
            "('XRPUSDTM', 'exclude', %s, null, 'open: <script>alert(1)</script>')",
            (start - 10 * HOUR, start - 5 * HOUR, start + 2 * HOUR, start + 26 * HOUR, start + 30 * HOUR),
        )
        conn.execute("update portfolio.overrides set valid_to = %s where symbol = 'XRPUSDTM'", (start + 60 * HOUR,))
        batch = conn.execute("select min(batch_id) from raw.load_batches where asset = 'kucoin_candles_1m'").fetchone()
        assert batch is not None
        for stage, rule, detail in (("load", "high_below_low", None), ("load", "high_below_low", None), ("gate", "price_jump", "raw_candles_suite failed: price_jump")):
            conn.execute(
                "insert into quarantine.candles_1m (batch_id, stage, rule, detail, symbol, open_time, record) values (%s, %s, %s, %s, 'XBTUSDTM', %s, %s)",
                (batch[0], stage, rule, detail, start, Jsonb({"symbol": "XBTUSDTM"})),
            )
        conn.execute(
            "insert into quarantine.trades (batch_id, stage, rule, symbol, record) values (%s, 'load', 'size_not_positive', 'XBTUSDTM', '{}')", (batch[0],)
        )
        for symbol in ("XBTUSDTM", "ETHUSDTM"):
            conn.execute(
                "insert into quarantine.gate_findings (layer, suite, expectation, rule, reason, window_start, window_end, record) "
                "values ('intermediate', 'int_returns_1h', 'expect_column_pair_values_to_be_equal', 'log_return_is_ln_of_gross_return', "
                "'log_return_1 = ln(1 + simple_return_1)', %s, %s, %s)",
                (start, start + HOUR, Jsonb({"symbol": symbol})),
            )
    now = datetime.now(UTC)
    return Warehouse(url, tmp_path_factory.mktemp("compliance"), (start - 100 * HOUR, now + HOUR))


def report(warehouse: Warehouse, start: datetime, end: datetime, name: str) -> tuple[str, dict[str, list[list[list[str]]]]]:
    out = warehouse.home / name
    result = CliRunner().invoke(
        main, ["report", "compliance", "--from", start.isoformat(), "--to", end.isoformat(), "--out", str(out)],
        env={"ZMART_DATABASE_URL": warehouse.url, "ZMART_HOME": str(warehouse.home)}, prog_name="zmart",
    )
    assert result.exit_code == 0, result.output + str(result.exception)
    assert result.output.startswith(f"wrote {out} ")
    document = out.read_text(encoding="utf-8")
    parser = Tables()
    parser.feed(document)
    return document, parser.tables


def body(tables: dict[str, list[list[list[str]]]], section: str, index: int = 0) -> list[list[str]]:
    return tables[section][index][1:]


def count(warehouse: Warehouse, query: str, start: datetime, end: datetime) -> int:
    return int(fetch(warehouse.url, query, (start, end))[0][0])


PERIODS = {
    "everything": None,
    # the second day only: cuts the rotation / steady history, holds no v1 evaluation
    "second_day": (synthetic.START + 24 * HOUR, synthetic.START + 48 * HOUR),
}


@pytest.mark.parametrize("period", list(PERIODS))
def test_the_report_shows_exactly_the_periods_decisions_constraints_and_evaluations(warehouse: Warehouse, period: str) -> None:
    start, end = PERIODS[period] or warehouse.everything
    document, tables = report(warehouse, start, end, f"{period}.html")
    assert not re.search(r"""(src|href)=["'](?!data:)""", document)  # self-contained
    decisions = fetch(warehouse.url, """
        select as_of, algorithm_version, symbol, action, reason from marts.fct_decisions
        where as_of >= %s and as_of < %s order by as_of, algorithm_version, score_rank nulls last, symbol""", (start, end))
    assert len(decisions) > 0
    shown = [(r[0], r[1], r[2], r[3], r[4]) for r in body(tables, "decisions")]
    assert shown == [(f"{a.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC", v, s, act, reason) for a, v, s, act, reason in decisions]
    # the one decision with a consensus record shows it and every vote; the others (none recorded) nothing
    assert sorted(r[5] for r in body(tables, "decisions") if r[5]) == [CONSENSUS_CELL]
    evaluations = count(warehouse, "select count(*) from portfolio.evaluations where as_of >= %s and as_of < %s", start, end)
    assert len(body(tables, "evaluations")) == evaluations
    totals = fetch(warehouse.url, """
        select constraint_name, count(*), count(*) filter (where passed), count(*) filter (where not passed), count(*) filter (where is_relaxed)
        from marts.fct_constraint_compliance where as_of >= %s and as_of < %s group by 1 order by 1""", (start, end))
    assert totals, "no constraint checks in the period: nothing proved"
    assert body(tables, "constraints", 0) == [[str(v) for v in row] for row in totals]
    assert len(body(tables, "constraints", 1)) == sum(int(r[1]) for r in totals)
    summary = re.search(r'<li id="summary-0">([^<]+)</li>', document)
    assert summary is not None and summary.group(1).endswith(f", {len(decisions)} decisions")
    if period == "second_day":  # synthetic.py's v1 evaluations (third day) are left out, the policy one is in
        assert {r[0] for r in body(tables, "decisions") if r[1] == "v1"} == {f"{POLICY_AS_OF:%Y-%m-%d %H:%M:%S} UTC"}


def test_the_report_shows_the_overrides_in_force_and_the_audited_changes(warehouse: Warehouse) -> None:
    start, end = PERIODS["second_day"]
    _, tables = report(warehouse, start, end, "overrides.html")
    # ended before the period: left out; the day's pin and the open exclusion (set to end later): shown
    assert [(r[1], r[2], r[5]) for r in body(tables, "overrides")] == [
        ("ETHUSDTM", "pin", "pinned for a day"), ("XRPUSDTM", "exclude", "open: <script>alert(1)</script>"),
    ]
    everything_start, everything_end = warehouse.everything
    _, tables = report(warehouse, everything_start, everything_end, "changes.html")
    changes = fetch(warehouse.url, "select change_id, table_schema || '.' || table_name, operation from audit.change_log order by change_id")
    assert [(int(r[0]), r[2], r[3]) for r in body(tables, "changes")] == [(int(i), t, op) for i, t, op in changes]
    update = next(r for r in body(tables, "changes") if r[2] == "portfolio.overrides" and r[3] == "UPDATE")
    assert update[5] == f'valid_to: null -> "{(synthetic.START + 60 * HOUR).isoformat()}"'


def test_the_report_shows_the_data_quality_of_the_period(warehouse: Warehouse) -> None:
    start, end = warehouse.everything
    _, tables = report(warehouse, start, end, "quality.html")
    batches = fetch(warehouse.url, """
        select asset, count(*), count(*) filter (where status = 'succeeded'), count(*) filter (where status = 'failed'),
               count(*) filter (where status = 'running'), sum(rows_in), sum(rows_inserted), sum(rows_unchanged), sum(rows_quarantined)
        from raw.load_batches group by asset order by asset""")
    assert body(tables, "batches") == [[str(v) for v in row] for row in batches]
    assert body(tables, "quarantine") == [
        ["candles_1m", "gate", "price_jump", "raw_candles_suite", "1", "1"],
        ["candles_1m", "load", "high_below_low", "", "2", "1"],
        ["trades", "load", "size_not_positive", "", "1", "1"],
    ]
    assert body(tables, "gate-findings") == [
        ["intermediate", "int_returns_1h", "log_return_is_ln_of_gross_return", "2",
         f"{synthetic.START:%Y-%m-%d %H:%M:%S} UTC", f"{synthetic.START + HOUR:%Y-%m-%d %H:%M:%S} UTC"],
    ]
    migrations = fetch(warehouse.url, "select version, checksum from meta.schema_migrations order by version")
    assert [(int(r[0]), r[2]) for r in body(tables, "migrations")] == [(int(v), c) for v, c in migrations]
    versions = fetch(warehouse.url, "select algorithm_version, parameters_hash from history.algorithm_versions order by first_seen_at, algorithm_version")
    assert [(r[0], r[2]) for r in body(tables, "algorithm-versions")] == versions and len(versions) >= 2
    # a period before anything was loaded or changed: every section says so
    _, tables = report(warehouse, start - 1000 * HOUR, start - 900 * HOUR, "empty.html")
    assert tables == {}
