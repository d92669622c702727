"""The compliance report: one self-contained HTML file of what was decided in a period [start, end),
why, under which constraints and overrides, what changed (audit log, algorithm versions, schema
migrations) and the quality of the data it rested on (batches loaded, quarantined rows, gates).

Every figure is read from the warehouse as it stands: the portfolio marts (fct_decisions,
fct_constraint_compliance), the evaluations and overrides of the portfolio schema, audit.change_log,
the change-history marts (dim_algorithm_versions_history, dim_schema_migrations), the load ledger
raw.load_batches and the quarantine schema. Times are UTC; a row is in the period when its time
(as_of, changed_at, first_seen_at, applied_at, started_at, quarantined_at) is in [start, end).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from orchestration.presentation.portfolio_report import STYLE, Row, table


@dataclass(frozen=True)
class ComplianceData:
    start: datetime
    end: datetime
    evaluations: list[Row]
    decisions: list[Row]
    constraints: list[Row]
    overrides: list[Row]
    changes: list[Row]
    algorithm_versions: list[Row]
    migrations: list[Row]
    batches: list[Row]
    quarantine: list[Row]
    gate_findings: list[Row]


def quarantine_tables(conn: psycopg.Connection) -> list[str]:
    """The quarantine tables of the raw tables (those with a stage column), by name; the layer
    gates' findings (quarantine.gate_findings, rows left in place) are reported apart."""
    return [r[0] for r in conn.execute(
        "select tables.table_name from information_schema.tables as tables "
        "inner join information_schema.columns as columns "
        "on columns.table_schema = tables.table_schema and columns.table_name = tables.table_name and columns.column_name = 'stage' "
        "where tables.table_schema = 'quarantine' and tables.table_type = 'BASE TABLE' order by 1"
    )]


def _quarantine_query(tables: Sequence[str]) -> sql.Composable:
    """Quarantined rows per table, stage and rule in the period; a gate's rows name it in detail
    ('<suite> failed: <rules>', orchestration/ingestion/quarantine.py)."""
    parts = [
        sql.SQL(
            "select {name} as table_name, stage, rule, "
            "case when stage = 'gate' then split_part(detail, ' failed: ', 1) end as gate, "
            "count(*) as rows, count(distinct batch_id) as batches "
            "from {table} where quarantined_at >= %(start)s and quarantined_at < %(end)s group by stage, rule, gate"
        ).format(name=sql.Literal(t), table=sql.Identifier("quarantine", t))
        for t in tables
    ]
    return sql.SQL("select * from ({}) as quarantined order by table_name, stage, rule").format(sql.SQL(" union all ").join(parts))


def load(conn: psycopg.Connection, start: datetime, end: datetime) -> ComplianceData:
    """Everything the report shows for [start, end)."""
    def rows(query: str | sql.Composable) -> list[Row]:
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, {"start": start, "end": end}).fetchall()  # type: ignore[arg-type]

    tables = quarantine_tables(conn)
    return ComplianceData(
        start=start,
        end=end,
        evaluations=rows(
            """
            select evaluation_id, as_of, algorithm_version, outcome, outcome_reason, policy, regime, relaxations,
                   universe_size, eligible_count, run_id
            from portfolio.evaluations where as_of >= %(start)s and as_of < %(end)s order by as_of, algorithm_version
            """
        ),
        decisions=rows(
            """
            select decision_id, evaluation_id, as_of, algorithm_version, symbol, action, reason, composite_score, score_rank,
                   consensus_status, consensus_score, consensus_confidence, votes, cardinality(input_batch_ids) as input_batches
            from marts.fct_decisions where as_of >= %(start)s and as_of < %(end)s
            order by as_of, algorithm_version, score_rank nulls last, symbol
            """
        ),
        constraints=rows(
            """
            select evaluation_id, as_of, algorithm_version, policy, regime, constraint_name, limit_value, measured_value,
                   passed, is_relaxed
            from marts.fct_constraint_compliance where as_of >= %(start)s and as_of < %(end)s
            order by as_of, algorithm_version, constraint_name
            """
        ),
        overrides=rows(
            """
            select override_id, symbol, action, valid_from, valid_to, reason, created_by, created_at
            from portfolio.overrides where valid_from < %(end)s and (valid_to is null or valid_to > %(start)s)
            order by valid_from, override_id
            """
        ),
        changes=rows(
            """
            select change_id, changed_at, table_schema || '.' || table_name as table_name, operation, primary_key,
                   before, after, changed_by_current_user, application_name
            from audit.change_log where changed_at >= %(start)s and changed_at < %(end)s order by change_id
            """
        ),
        algorithm_versions=rows(
            """
            select algorithm_version, revision, parameters_hash, weights, parameters, status_when_recorded, dagster_run_id,
                   first_seen_at, superseded_at
            from marts.dim_algorithm_versions_history where first_seen_at >= %(start)s and first_seen_at < %(end)s
            order by first_seen_at, algorithm_version
            """
        ),
        migrations=rows(
            """
            select version, file_name, checksum, applied_at, applied_by from marts.dim_schema_migrations
            where applied_at >= %(start)s and applied_at < %(end)s order by version
            """
        ),
        batches=rows(
            """
            select asset, count(*) as batches,
                   count(*) filter (where status = 'succeeded') as succeeded,
                   count(*) filter (where status = 'failed') as failed,
                   count(*) filter (where status = 'running') as running,
                   coalesce(sum(rows_in), 0) as rows_in, coalesce(sum(rows_inserted), 0) as rows_inserted,
                   coalesce(sum(rows_unchanged), 0) as rows_unchanged, coalesce(sum(rows_quarantined), 0) as rows_quarantined
            from raw.load_batches where started_at >= %(start)s and started_at < %(end)s group by asset order by asset
            """
        ),
        quarantine=rows(_quarantine_query(tables)) if tables else [],
        gate_findings=rows(
            """
            select layer, suite, rule, count(*) as rows, min(window_start) as first_window_start, max(window_end) as last_window_end
            from quarantine.gate_findings where found_at >= %(start)s and found_at < %(end)s
            group by layer, suite, rule order by layer, suite, rule
            """
        ),
    )


def _time(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if value is not None else ""


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{float(value):.{digits}g}"


def _vote(agent: str, vote: Row) -> str:
    """One agent's vote: its recommendation, and its score and weight in the consensus unless it abstained."""
    head = f"{agent} {vote['recommendation']}"
    return head if vote["score"] is None else f"{head} {_number(vote['score'])} (weight {_number(vote['weight'])})"


def _consensus(decision: Row) -> str:
    """The consensus the decision recorded and every agent's vote, in one cell: missing when the
    manager found no consensus row, empty for a decision recorded before it kept them (null status)."""
    status = decision["consensus_status"]
    if status in (None, "missing"):
        return status or ""
    score = f"score {_number(decision['consensus_score'])}, " if status == "present" else ""
    votes = "; ".join(_vote(agent, vote) for agent, vote in sorted(decision["votes"].items()))
    return f"{status} ({score}confidence {_number(decision['consensus_confidence'])}): {votes}"


def _changed_columns(change: Row) -> str:
    """What an audited change did: the columns an update changed (before -> after), or the row."""
    before, after = change["before"] or {}, change["after"] or {}
    if change["operation"] == "UPDATE":
        keys = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        return "; ".join(f"{k}: {json.dumps(before.get(k))} -> {json.dumps(after.get(k))}" for k in keys)
    return json.dumps(after or before, sort_keys=True, default=str)


def _summary(data: ComplianceData) -> str:
    formed = sum(e["outcome"] == "formed" for e in data.evaluations)
    failed = [c for c in data.constraints if not c["passed"]]
    relaxed = [c for c in failed if c["is_relaxed"]]
    quarantined = sum(int(q["rows"]) for q in data.quarantine)
    items = [
        f"{len(data.evaluations)} evaluations ({formed} formed), {len(data.decisions)} decisions",
        f"{len(data.constraints)} constraint checks: {len(data.constraints) - len(failed)} passed, "
        f"{len(failed)} failed ({len(relaxed)} of them declared relaxations)",
        f"{len(data.overrides)} overrides in force, {len(data.changes)} audited changes",
        f"{len(data.algorithm_versions)} algorithm version changes, {len(data.migrations)} schema migrations",
        f"{sum(int(b['batches']) for b in data.batches)} load batches, {quarantined} quarantined rows",
    ]
    return "<ul>" + "".join(f'<li id="summary-{i}">{html.escape(t)}</li>' for i, t in enumerate(items)) + "</ul>"


def _constraint_totals(constraints: Sequence[Row]) -> list[list[object]]:
    totals: dict[str, list[int]] = {}
    for c in constraints:
        counts = totals.setdefault(c["constraint_name"], [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += bool(c["passed"])
        counts[2] += not c["passed"]
        counts[3] += bool(c["is_relaxed"])
    return [[name, *counts] for name, counts in sorted(totals.items())]


def _section(title: str, anchor: str, rows: Sequence[object], content: str, empty: str) -> list[str]:
    return [f'<h2 id="{anchor}">{html.escape(title)}</h2>', content if rows else f"<p>{html.escape(empty)}</p>"]


def render(data: ComplianceData, generated_at: datetime) -> str:
    """The report as one HTML document."""
    constraints_by_evaluation: dict[int, list[Row]] = {}
    for c in data.constraints:
        constraints_by_evaluation.setdefault(c["evaluation_id"], []).append(c)
    sections = [
        "<h1>Compliance report</h1>",
        f"<p>Period {_time(data.start)} .. {_time(data.end)} (end exclusive); generated {_time(generated_at)}.</p>",
        _summary(data),
    ]
    sections += _section("Evaluations", "evaluations", data.evaluations, table(
        ["as of", "version", "outcome", "reason", "policy", "regime", "relaxations", "universe", "eligible", "run"],
        [[_time(e["as_of"]), e["algorithm_version"], e["outcome"], e["outcome_reason"] or "", e["policy"] or "", e["regime"] or "",
          ", ".join(e["relaxations"] or []), e["universe_size"], e["eligible_count"], e["run_id"] or ""] for e in data.evaluations],
        numeric=(7, 8),
    ), "No evaluation in the period.")
    sections += _section("Decisions and their rationale", "decisions", data.decisions, table(
        ["as of", "version", "symbol", "action", "reason", "consensus and votes", "composite score", "rank", "input batches"],
        [[_time(d["as_of"]), d["algorithm_version"], d["symbol"], d["action"], d["reason"], _consensus(d), _number(d["composite_score"]),
          "" if d["score_rank"] is None else d["score_rank"], d["input_batches"]] for d in data.decisions],
        numeric=(6, 7, 8),
    ), "No decision in the period.")
    sections += _section("Constraints in force and their compliance", "constraints", data.constraints, table(
        ["constraint", "checks", "passed", "failed", "relaxed"], _constraint_totals(data.constraints), numeric=(1, 2, 3, 4),
    ) + table(
        ["as of", "version", "policy", "regime", "constraint", "limit", "measured", "passed", "relaxed"],
        [[_time(c["as_of"]), c["algorithm_version"], c["policy"], c["regime"], c["constraint_name"], _number(c["limit_value"], 6),
          _number(c["measured_value"], 6), "yes" if c["passed"] else "NO", "yes" if c["is_relaxed"] else ""] for c in data.constraints],
        numeric=(5, 6),
    ), "No formed evaluation with a policy in the period.")
    sections += _section("Overrides in force", "overrides", data.overrides, table(
        ["id", "symbol", "action", "from", "to", "reason", "by", "created"],
        [[o["override_id"], o["symbol"], o["action"], _time(o["valid_from"]), _time(o["valid_to"]) or "open", o["reason"],
          o["created_by"], _time(o["created_at"])] for o in data.overrides],
        numeric=(0,),
    ), "No override in force in the period.")
    sections += _section("Audit log", "changes", data.changes, table(
        ["id", "when", "table", "operation", "key", "change", "by", "application"],
        [[c["change_id"], _time(c["changed_at"]), c["table_name"], c["operation"], json.dumps(c["primary_key"], sort_keys=True),
          _changed_columns(c), c["changed_by_current_user"], c["application_name"]] for c in data.changes],
        numeric=(0,),
    ), "No audited change in the period.")
    sections += _section("Algorithm versions first used in the period", "algorithm-versions", data.algorithm_versions, table(
        ["version", "revision", "parameters hash", "weights", "parameters", "status", "run", "first seen", "superseded"],
        [[a["algorithm_version"], a["revision"], a["parameters_hash"], json.dumps(a["weights"], sort_keys=True),
          json.dumps(a["parameters"], sort_keys=True), a["status_when_recorded"], a["dagster_run_id"] or "",
          _time(a["first_seen_at"]), _time(a["superseded_at"])] for a in data.algorithm_versions],
        numeric=(1,),
    ), "No algorithm version or parameter change in the period.")
    sections += _section("Schema migrations applied in the period", "migrations", data.migrations, table(
        ["version", "file", "sha256", "applied", "by"],
        [[m["version"], m["file_name"], m["checksum"], _time(m["applied_at"]), m["applied_by"]] for m in data.migrations],
        numeric=(0,),
    ), "No schema migration in the period.")
    sections += ['<h2 id="data-quality">Data quality</h2>']
    sections += _section("Batches loaded", "batches", data.batches, table(
        ["asset", "batches", "succeeded", "failed", "running", "rows in", "inserted", "unchanged", "quarantined"],
        [[b["asset"], *(b[k] for k in ("batches", "succeeded", "failed", "running", "rows_in", "rows_inserted", "rows_unchanged", "rows_quarantined"))]
         for b in data.batches],
        numeric=range(1, 9),
    ), "No load batch started in the period.")
    sections += [
        "<p>Gate outcomes: a raw GX gate that fails moves the rows it flagged to quarantine with stage gate and "
        "names its suite (gate); a layer gate over dbt's models records the rows it flagged, left in place, in "
        "quarantine.gate_findings (last table); a gate that passes leaves no row here (its result is a Dagster asset check).</p>"
    ]
    sections += _section("Quarantined rows per table and rule", "quarantine", data.quarantine, table(
        ["table", "stage", "rule", "gate", "rows", "batches"],
        [[q["table_name"], q["stage"], q["rule"], q["gate"] or "", q["rows"], q["batches"]] for q in data.quarantine],
        numeric=(4, 5),
    ), "No row quarantined in the period.")
    sections += _section("Derived rows flagged by the layer gates", "gate-findings", data.gate_findings, table(
        ["layer", "suite", "rule", "rows", "first window start", "last window end"],
        [[g["layer"], g["suite"], g["rule"], g["rows"], _time(g["first_window_start"]), _time(g["last_window_end"])] for g in data.gate_findings],
        numeric=(3,),
    ), "No derived row flagged by a layer gate in the period.")
    body = "\n".join(sections)
    title = f"Compliance report {data.start:%Y-%m-%d %H:%M} .. {data.end:%Y-%m-%d %H:%M} UTC"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )

