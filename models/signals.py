"""Signal files (JSONL or CSV) and the rules a signal record must follow.

A file is read as bytes and split into physical lines, so one bad line (invalid UTF-8, too
long, not JSON) is refused with its line number while the others load. Every refusal names a
stable rule:

* line rules: ``line:too_long`` (over MAX_LINE_BYTES), ``line:invalid_utf8``,
  ``line:invalid_json``, ``line:not_an_object`` (JSONL), ``line:invalid_csv``,
  ``line:wrong_field_count`` (CSV);
* field rules ``<field>:<pydantic error type>``, as for the exchange payloads (models/records.py):
  ``confidence:less_than_equal``, ``kind:literal_error``, ``published_at:timezone_aware``,
  ``symbol:string_pattern_mismatch``, ``text:string_too_long``, ``text:nul_character``,
  ``<field>:missing`` ...;
* record rules: ``text:missing_for_kind`` (news, social and on-chain signals need a text),
  ``received_before_published``, and ``duplicate_key`` ((source, external_id) twice in a file).

What cannot be read at all (a missing file, an unknown suffix, a CSV without the required
header) raises SignalFileError naming the file: nothing of it is loaded. Blank lines are not
records. Fields beyond the schema are ignored (sources may add their own). Symbols are checked
for shape only; whether a contract of that name exists is flagged downstream
(stg_signals__signals.is_known_symbol), so a signal that arrives before its contract's first
snapshot is kept rather than lost.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from models.records import Finite, Symbol, validate_records
from models.rejections import Rejection

FIELDS = ("source", "external_id", "kind", "symbol", "direction", "confidence", "text", "published_at", "received_at")
PROVENANCE_COLUMNS = ("source_file", "source_sha256", "source_line")
COLUMNS = (*FIELDS, *PROVENANCE_COLUMNS)
KINDS = ("technical", "news", "social", "onchain")
DIRECTIONS = ("long", "short", "neutral")
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
MAX_LINE_BYTES = 65_536
MAX_TEXT_CHARS = 4_000
_SHOWN_CHARS = 2_000  # of a refused line kept in quarantine


class SignalFileError(ValueError):
    """A signal file that cannot be read at all."""


def _no_nul(text: str | None) -> str | None:
    if text is None:
        return None
    if "\x00" in text:
        raise PydanticCustomError("nul_character", "contains a NUL character, which no PostgreSQL text can hold")
    return text if text.strip() else None  # a blank text is no text


class SignalRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    source: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    external_id: Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{1,200}$")]
    kind: Literal["technical", "news", "social", "onchain"]
    symbol: Symbol
    direction: Literal["long", "short", "neutral"]
    confidence: Annotated[Finite, Field(ge=0, le=1)]
    text: Annotated[str | None, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_no_nul)] = None
    published_at: AwareDatetime
    received_at: AwareDatetime
    source_file: str
    source_sha256: str
    source_line: int


@dataclass(frozen=True)
class SignalFile:
    path: Path
    sha256: str
    format: str  # jsonl | csv

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class ParsedFile:
    file: SignalFile
    records: list[dict[str, Any]]  # field values as read, with the provenance columns added
    rejections: list[Rejection]  # lines that are not records

    @property
    def rows_in(self) -> int:
        return len(self.records) + len(self.rejections)


@dataclass(frozen=True)
class SignalValidation:
    accepted: pd.DataFrame  # columns COLUMNS
    rejections: list[Rejection]


def signal_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SignalFileError(f"{path}: unknown format {path.suffix or '(no suffix)'!r}: expected one of {', '.join(FORMATS)}")
    return fmt


def read_signal_file(path: Path) -> ParsedFile:
    fmt = signal_format(path)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise SignalFileError(f"{path}: cannot read: {error.strerror or error}") from None
    file = SignalFile(path, hashlib.sha256(content).hexdigest(), fmt)
    records: list[dict[str, Any]] = []
    rejections: list[Rejection] = []
    lines = _decoded_lines(file, content, rejections)
    rows = _jsonl_rows(file, lines, rejections) if fmt == "jsonl" else _csv_rows(file, lines, rejections)
    for line, record in rows:
        records.append({**record, "source_file": file.name, "source_sha256": file.sha256, "source_line": line})
    return ParsedFile(file, records, rejections)


def validate_signals(parsed: ParsedFile) -> SignalValidation:
    accepted, rejections = validate_records(
        SignalRecord,
        parsed.records,
        key=lambda s: (s.source, s.external_id),
        symbol=lambda r: r.get("symbol") if isinstance(r.get("symbol"), str) else None,
        key_time=lambda s: s.published_at,
        check=_record_rule,
    )
    frame = pd.DataFrame([s.model_dump() for s in accepted], columns=list(COLUMNS))
    for column in ("published_at", "received_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    refused = sorted([*parsed.rejections, *(_located(r) for r in rejections)], key=lambda r: r.extra["source_line"])
    return SignalValidation(frame, refused)


def _record_rule(s: SignalRecord) -> tuple[str, str] | None:
    if s.kind != "technical" and s.text is None:
        return "text:missing_for_kind", f"a {s.kind} signal needs a text"
    if s.received_at < s.published_at:
        return "received_before_published", f"received_at {s.received_at.isoformat()} is before published_at {s.published_at.isoformat()}"
    return None


def _located(rejection: Rejection) -> Rejection:
    """The rejection of a record with its provenance moved out of the record into ``extra``."""
    record = dict(rejection.record)
    provenance = {c: record.pop(c) for c in PROVENANCE_COLUMNS}
    detail = f"{provenance['source_file']} line {provenance['source_line']}: {rejection.detail}"
    symbol = rejection.symbol[:80] if rejection.symbol is not None else None
    return replace(rejection, record=record, detail=detail, symbol=symbol, extra=provenance)


def _refuse(file: SignalFile, line: int, rule: str, detail: str, record: Any, rejections: list[Rejection]) -> None:
    extra = {"source_file": file.name, "source_sha256": file.sha256, "source_line": line}
    rejections.append(Rejection(rule, f"{file.name} line {line}: {detail}", record, extra=extra))


def _decoded_lines(file: SignalFile, content: bytes, rejections: list[Rejection]) -> list[tuple[int, str]]:
    """(line number, text) of every non-blank line that is valid UTF-8 and not too long."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(content.split(b"\n"), start=1):
        raw = raw.removesuffix(b"\r")
        shown = raw[:_SHOWN_CHARS].decode("utf-8", "backslashreplace")
        if len(raw) > MAX_LINE_BYTES:
            _refuse(file, number, "line:too_long", f"{len(raw)} bytes, more than {MAX_LINE_BYTES}", {"line_prefix": shown}, rejections)
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            _refuse(file, number, "line:invalid_utf8", f"not UTF-8 at byte {error.start}", {"line": shown}, rejections)
            continue
        if text.strip():
            lines.append((number, text))
    return lines


def _jsonl_rows(file: SignalFile, lines: list[tuple[int, str]], rejections: list[Rejection]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in lines:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            _refuse(file, number, "line:invalid_json", f"{error.msg} at column {error.colno}", {"line": text[:_SHOWN_CHARS]}, rejections)
            continue
        if not isinstance(value, dict):
            _refuse(file, number, "line:not_an_object", f"a JSON {type(value).__name__}, not an object", {"line": text[:_SHOWN_CHARS]}, rejections)
            continue
        yield number, value


def _csv_rows(file: SignalFile, lines: list[tuple[int, str]], rejections: list[Rejection]) -> Iterator[tuple[int, dict[str, Any]]]:
    consumed: list[int] = []  # line numbers in the order the CSV reader took them

    def feed() -> Iterator[str]:
        for number, text in lines:
            consumed.append(number)
            yield text + "\n"

    texts = dict(lines)
    reader = csv.reader(feed(), strict=True)
    header = next(reader, None)
    if header is None:
        raise SignalFileError(f"{file.path}: an empty CSV file: expected a header line naming {', '.join(FIELDS)}")
    missing = [f for f in FIELDS if f not in header]
    if missing:
        raise SignalFileError(f"{file.path}: line {consumed[0]}: the CSV header lacks {', '.join(missing)}")
    while True:
        start = len(consumed)
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            _refuse(file, consumed[start], "line:invalid_csv", str(error), {"line": texts[consumed[start]][:_SHOWN_CHARS]}, rejections)
            continue
        number = consumed[start]
        if len(row) != len(header):
            _refuse(file, number, "line:wrong_field_count", f"{len(row)} fields, the header has {len(header)}", {"fields": row}, rejections)
            continue
        # an empty CSV field is an absent value (a missing field, or no text)
        yield number, {name: value for name, value in zip(header, row, strict=True) if value != ""}
