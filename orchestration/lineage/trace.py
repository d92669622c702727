"""Trace model rows to their raw load batches through declared key references.

A model's row carries the batches of the rows it aggregates in its own bigint[] column
(`input_batch_ids` or `batch_ids`). The inputs it reads through a key or a look-back instead are
declared in its YAML, model-level `meta.lineage.references`:

    references:
      - model: int_market_regime_1h
        match: "u.bucket_start = r.as_of - interval '1 hour'"
        holds: the regime whose policy row set the limits
        exists:        # optional: u counts only where such rows exist (each nested in the one
          - model: int_returns_1h   # before it, so it may use the earlier aliases; negated: true
            alias: a                # turns it into "where no such row exists")
            match: "a.symbol = r.symbol_a and ..."
    key: [algorithm_version, symbol]   # optional: the columns a traced row is printed by (needed
                                       # only when the model's tests make two keys unique)

`r` is the row being traced, `u` a row of the upstream model. A row's lineage is its own array
united with the lineage of every upstream row a reference matches, recursively. Nothing is
resolved at build time: one SQL statement per trace, one CTE per reference edge, set-wise over
every selected row, in a read-only transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ARRAY_COLUMNS = ("input_batch_ids", "batch_ids")  # a model's own lineage column, in this order
ROW_ID = "lineage_row_id"
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_QUALIFIER = re.compile(r"(?<![\w$.\"])([A-Za-z_][\w$]*)\s*\.\s*[A-Za-z_\"]")
_ALIAS = re.compile(r"^[a-z]$")
_REFERENCE_KEYS = {"model", "match", "holds", "exists"}
_EXISTS_KEYS = {"model", "alias", "match", "negated"}


class LineageError(ValueError):
    """A lineage declaration or a trace request that breaks a rule (the message names both)."""


@dataclass(frozen=True)
class Exists:
    model: str
    alias: str
    match: str
    negated: bool = False


@dataclass(frozen=True)
class Reference:
    model: str
    match: str
    holds: str
    exists: tuple[Exists, ...] = ()


@dataclass(frozen=True)
class Model:
    name: str
    schema: str
    relation: str
    key: tuple[str, ...]
    array: str | None  # its own batch-id column, if it has one
    references: tuple[Reference, ...]
    materialized: str


@dataclass
class TracedRow:
    """One traced row: its key, the union of every contribution, and per path (the traced model's
    own array, "model > upstream > ...") the sorted distinct ids of the rows reached there."""

    key: dict[str, Any]
    batch_ids: list[int]
    contributions: dict[str, list[int]] = field(default_factory=dict)  # path -> the ids its rows hold


def _one_expression(owner: str, what: str, text: str) -> str:
    """`text` with its string literals blanked, refused unless it is one expression: a ';' or a
    comment could end the statement it is spliced into or hide the rest of it."""
    bare = _LITERAL.sub("''", text)
    if ";" in bare or "--" in bare or "/*" in bare:
        raise LineageError(f"{owner}: {what} {text!r} must be one expression (no ';' or comments)")
    return bare


def _check_sql(owner: str, what: str, text: str, aliases: set[str]) -> set[str]:
    """`text` is one boolean SQL expression qualifying columns only with `aliases`; returns those it uses."""
    bare = _one_expression(owner, what, text)
    used = {q.lower() for q in _QUALIFIER.findall(bare)}
    if not used <= aliases:
        raise LineageError(f"{owner}: {what} {text!r} may qualify columns only with {sorted(aliases)}, not {sorted(used - aliases)}")
    return used


def _references(name: str, lineage: Mapping[str, Any]) -> tuple[Reference, ...]:
    declared = lineage.get("references") or []
    if not isinstance(declared, list):
        raise LineageError(f"{name}: meta.lineage.references must be a list")
    references = []
    for entry in declared:
        missing, unknown = {"model", "match", "holds"} - set(entry), set(entry) - _REFERENCE_KEYS
        if missing or unknown:
            raise LineageError(f"{name}: a lineage reference lacks {sorted(missing)} / has unknown keys {sorted(unknown)}")
        reference = Reference(
            str(entry["model"]), str(entry["match"]), str(entry["holds"]),
            tuple(_exists(name, e) for e in entry.get("exists") or []),
        )
        owner = f"{name} -> {reference.model}"
        used = _check_sql(owner, "match", reference.match, {"r", "u"})
        aliases = {"r", "u"}
        for e in reference.exists:
            if not _ALIAS.match(e.alias) or e.alias in aliases:
                raise LineageError(f"{owner}: exists alias {e.alias!r} must be one new lowercase letter (not r, u or an earlier alias)")
            aliases.add(e.alias)
            used |= _check_sql(owner, f"exists {e.alias} match", e.match, aliases)
        if "r" not in used:  # else every upstream row would match every traced row
            raise LineageError(f"{owner}: match {reference.match!r} (or its exists) must use the traced row (r.)")
        references.append(reference)
    return tuple(references)


def _exists(name: str, entry: Mapping[str, Any]) -> Exists:
    missing, unknown = {"model", "alias", "match"} - set(entry), set(entry) - _EXISTS_KEYS
    if missing or unknown or not isinstance(entry.get("negated", False), bool):
        raise LineageError(f"{name}: a lineage exists entry lacks {sorted(missing)} / has unknown keys {sorted(unknown)} "
                           "(negated, when given, is true or false)")
    return Exists(str(entry["model"]), str(entry["alias"]), str(entry["match"]), entry.get("negated", False))


def _candidate_keys(manifest: Mapping[str, Any]) -> dict[str, list[tuple[str, ...]]]:
    """Per model, the keys its tests make unique: every unique_combination_of_columns test's
    columns, else every column with a `unique` test."""
    combinations: dict[str, list[tuple[str, ...]]] = {}
    columns: dict[str, list[tuple[str, ...]]] = {}
    for node in manifest["nodes"].values():
        test = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or not node.get("attached_node"):
            continue
        if test.get("name") == "unique_combination_of_columns":
            combinations.setdefault(node["attached_node"], []).append(tuple(test["kwargs"]["combination_of_columns"]))
        elif test.get("name") == "unique" and node.get("column_name"):
            columns.setdefault(node["attached_node"], []).append((node["column_name"],))
    return {model: combinations.get(model) or columns[model] for model in {*combinations, *columns}}


def _key(node: Mapping[str, Any], lineage: Mapping[str, Any], candidates: Mapping[str, list[tuple[str, ...]]]) -> tuple[str, ...]:
    """The columns naming a row: meta.lineage.key, else unique_key, else the one key its tests make
    unique (none: ()). Two candidate keys and no declaration is an error: which one the rows are
    printed by would depend on the manifest's order."""
    name = node["name"]
    if "key" in lineage:
        declared = lineage["key"]
        documented = set(node.get("columns") or {})
        if not isinstance(declared, list) or not declared or not all(isinstance(c, str) and c in documented for c in declared):
            raise LineageError(f"{name}: meta.lineage.key {declared!r} must be a list of the model's documented columns")
        return tuple(declared)
    unique_key = node["config"].get("unique_key")
    if unique_key:
        return (unique_key,) if isinstance(unique_key, str) else tuple(unique_key)
    keys = sorted(set(candidates.get(node["unique_id"], ())))
    if len(keys) > 1:
        raise LineageError(f"{name}: its tests make {len(keys)} keys unique ({'; '.join(', '.join(k) for k in keys)}): "
                           "declare the one its rows are printed by as meta.lineage.key")
    return keys[0] if keys else ()


class Lineage:
    """The models of a dbt manifest and their declared references, validated on load."""

    def __init__(self, manifest: Mapping[str, Any]) -> None:
        nodes = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
        # an `exists` may also filter on a seed (e.g. a version's weights)
        self.seeds = {n["name"]: (n["schema"], n["alias"]) for n in manifest["nodes"].values() if n["resource_type"] == "seed"}
        candidates = _candidate_keys(manifest)
        self.models: dict[str, Model] = {}
        for node in nodes:
            columns = set(node.get("columns") or {})
            meta = node.get("config", {}).get("meta") or node.get("meta") or {}
            lineage = meta.get("lineage") or {}
            self.models[node["name"]] = Model(
                node["name"], node["schema"], node["alias"],
                _key(node, lineage, candidates),
                next((c for c in ARRAY_COLUMNS if c in columns), None),
                _references(node["name"], lineage),
                node["config"].get("materialized", "view"),
            )
        for model in self.models.values():
            for reference in model.references:
                if reference.model not in self.models:
                    raise LineageError(f"{model.name}: lineage reference to {reference.model!r}, which is not a model of the project")
                if self.models[reference.model].materialized == "ephemeral":
                    raise LineageError(f"{model.name}: lineage reference to {reference.model}, which is ephemeral (no relation to read)")
                for e in reference.exists:
                    if e.model not in self.models and e.model not in self.seeds:
                        raise LineageError(f"{model.name} -> {reference.model}: exists on {e.model!r}, which is not a model or seed of the project")
                if self.models[reference.model].array is None and not self.models[reference.model].references:
                    raise LineageError(f"{model.name}: lineage reference to {reference.model}, which has no batch ids and no references")

    @classmethod
    def from_manifest_file(cls, path: Path) -> Lineage:
        return cls(json.loads(path.read_text()))

    def model(self, name: str) -> Model:
        if name not in self.models:
            raise LineageError(f"model {name!r} is not a model of the project")
        return self.models[name]

    def edges(self, name: str) -> list[tuple[int, tuple[str, ...], Reference]]:
        """Every reference edge reachable from `name`, depth first: the index of its source (0: the
        traced model, k: the k-th edge's rows), its path and the reference."""
        found: list[tuple[int, tuple[str, ...], Reference]] = []

        def visit(source: int, path: tuple[str, ...]) -> None:
            for reference in self.model(path[-1]).references:
                if reference.model in path:
                    raise LineageError(f"{path[-1]}: lineage reference to {reference.model} closes a cycle {' > '.join((*path, reference.model))}")
                found.append((source, (*path, reference.model), reference))
                visit(len(found), (*path, reference.model))

        visit(0, (name,))
        return found


def _relation(model: Model) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(model.schema), sql.Identifier(model.relation))


def _filter_relation(lineage: Lineage, name: str) -> sql.Composed:
    """The relation of an `exists` entry: a model or a seed."""
    schema, relation = lineage.seeds[name] if name in lineage.seeds else (lineage.model(name).schema, lineage.model(name).relation)
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(relation))


def _raw(text: str) -> sql.SQL:
    """A vetted SQL fragment, its % escaped: the statement is sent with parameters."""
    return sql.SQL(text.replace("%", "%%"))


def trace_query(lineage: Lineage, name: str, where: str) -> sql.Composed:
    """The statement tracing the rows of `name` (alias r) selected by `where`: per row and path, the
    sorted distinct ids of the rows reached (path null when nothing is reached)."""
    root = lineage.model(name)
    if not root.key:
        raise LineageError(f"{name}: no key to print its rows by (no meta.lineage.key, no unique_key and no unique test)")
    _one_expression(name, "--where", where)
    row = sql.Identifier(ROW_ID)
    keys = sql.SQL(", ").join(sql.SQL("t0.{}").format(sql.Identifier(k)) for k in root.key)
    ctes = [sql.SQL("t0 as (select row_number() over (order by {order}) as {row}, r.* from {rel} as r where ({where}) limit %(limit)s)").format(
        order=sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(k)) for k in root.key), row=row, rel=_relation(root), where=_raw(where))]
    parts: list[sql.Composable] = []
    if root.array:
        parts.append(sql.SQL("select {row}, {path}, {array} from t0").format(
            row=row, path=sql.Literal(name), array=sql.Identifier(root.array)))
    for index, (source, path, reference) in enumerate(lineage.edges(name), start=1):
        target = lineage.model(reference.model)
        cte = sql.Identifier(f"t{index}")
        # one upstream row once per traced row, whatever the number of paths to it
        distinct = sql.SQL("distinct on (r.{row}, u.ctid) ").format(row=row) if target.materialized in ("table", "incremental") else sql.SQL("")
        ctes.append(sql.SQL("{cte} as (select {distinct}r.{row}, u.* from {rel} as u inner join {source} as r on {condition})").format(
            cte=cte, distinct=distinct, row=row, rel=_relation(target),
            source=sql.Identifier(f"t{source}"), condition=_exists_chain(lineage, reference)))
        if target.array:
            parts.append(sql.SQL("select {row}, {path}, {array} from {cte}").format(
                row=row, path=sql.Literal(" > ".join(path)), array=sql.Identifier(target.array), cte=cte))
    contributions = sql.SQL(" union all ").join(parts) if parts else sql.SQL("select null::bigint, null::text, null::bigint[]")
    return sql.SQL(
        "with {ctes} select t0.{row}, {keys}, c.path, zmart_fn.sorted_distinct(zmart_fn.array_cat_agg(c.ids)) "
        "from t0 left join ({contributions}) as c ({row}, path, ids) using ({row}) "
        "group by t0.{row}, {keys}, c.path order by t0.{row}, c.path"
    ).format(ctes=sql.SQL(", ").join(ctes), row=row, keys=keys, contributions=contributions)


def trace(conn: psycopg.Connection[Any], lineage: Lineage, name: str, where: str, max_rows: int = 1000) -> list[TracedRow]:
    """Per row of `name` matching `where` (the caller's own SQL on its own database, run in a
    read-only transaction), its key, sorted distinct batch ids and each path's contribution."""
    key = lineage.model(name).key
    with conn.transaction():
        conn.execute("set transaction read only")
        # the parameter makes psycopg use the extended protocol: one statement, whatever `where` holds
        records = conn.execute(trace_query(lineage, name, where), {"limit": max_rows + 1}).fetchall()
    rows: dict[int, TracedRow] = {}
    for record in records:
        row_id, keys, path, ids = record[0], record[1 : 1 + len(key)], record[-2], record[-1]
        traced = rows.setdefault(row_id, TracedRow(dict(zip(key, keys, strict=True)), []))
        if path is not None:
            traced.contributions[path] = list(ids)
    if len(rows) > max_rows:
        raise LineageError(f"{name}: --where {where!r} selects more than {max_rows} rows (narrow it or raise --max-rows)")
    for traced in rows.values():
        traced.batch_ids = sorted({i for ids in traced.contributions.values() for i in ids})
    return list(rows.values())


def _exists_chain(lineage: Lineage, reference: Reference) -> sql.Composable:
    """The match, then each `exists` nested inside the previous one (later aliases see earlier)."""
    inner: sql.Composable = sql.SQL("true")
    for e in reversed(reference.exists):
        inner = sql.SQL("{}exists (select from {} as {} where ({}) and {})").format(
            sql.SQL("not " if e.negated else ""), _filter_relation(lineage, e.model), sql.Identifier(e.alias), _raw(e.match), inner)
    return sql.SQL("({}) and {}").format(_raw(reference.match), inner)
