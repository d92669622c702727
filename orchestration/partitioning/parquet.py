"""How a partition's columns travel through Parquet exactly.

Types Parquet holds exactly are stored natively (integers, floats, booleans, text, timestamps
in microseconds, dates, and one-dimensional arrays of them). Every other type (numeric, jsonb,
uuid, interval ...) is stored as PostgreSQL's own text output and read back through the type's
input function: numeric keeps its scale (1.50 stays 1.50, which no fixed Parquet decimal does
for an unconstrained numeric), jsonb its normalised text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from psycopg import sql

# pg_type.typname -> the Parquet (Arrow) type that holds it exactly
NATIVE_TYPES: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # format_type(): what the manifest records, e.g. numeric(20,8), text[]
    type_name: str  # pg_type.typname, e.g. numeric, _text
    element_type_name: str | None  # an array's element typname, None for a scalar

    @property
    def as_text(self) -> bool:
        """Stored as PostgreSQL's text output (the type, or an array's element, is not native)."""
        return (self.element_type_name or self.type_name) not in NATIVE_TYPES

    @property
    def arrow_type(self) -> pa.DataType:
        scalar = pa.string() if self.as_text else NATIVE_TYPES[self.element_type_name or self.type_name]
        return pa.list_(scalar) if self.element_type_name else scalar

    def export_expression(self) -> sql.Composable:
        """The select expression that reads the column as Parquet stores it."""
        column = sql.Identifier(self.name)
        if not self.as_text:
            return column
        return sql.SQL("{}::text[]" if self.element_type_name else "{}::text").format(column)


def arrow_schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type) for c in columns])


def record_batch(columns: list[Column], rows: list[tuple[object, ...]]) -> pa.RecordBatch:
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pa.record_batch([pa.array(v, type=c.arrow_type) for c, v in zip(columns, values, strict=True)], schema=arrow_schema(columns))
