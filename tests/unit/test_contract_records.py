"""Contract objects: typed, validated, and refused with the field and rule they broke."""

import json
from datetime import UTC, datetime
from pathlib import Path

from models.contracts import validate_contracts

RECORDED = Path(__file__).parents[1] / "fixtures" / "kucoin" / "contracts_active_subset.json"  # copied from ../shared
SNAPSHOT = datetime(2026, 11, 1, tzinfo=UTC)


def recorded_contracts() -> list[dict]:
    return json.loads(RECORDED.read_text())["data"]


def test_every_recorded_real_contract_is_accepted() -> None:
    infos = recorded_contracts()
    result = validate_contracts([{"symbol": i["symbol"], "info": i} for i in infos], SNAPSHOT)
    assert result.rejections == []
    assert len(result.accepted) == len(infos)
    inverse = result.accepted.set_index("symbol").loc["XBTUSDM"]
    assert bool(inverse["is_inverse"]) and inverse["multiplier"] == -1
    omni = result.accepted.set_index("symbol").loc["OMNIUSDTM"]
    assert omni["funding_granularity_ms"] == 14_400_000
    assert omni["open_interest_lots"] == 7_266_352


def test_hostile_and_malformed_contracts_are_rejected_with_rule() -> None:
    good = recorded_contracts()[0]
    hostile = {**good, "symbol": "X'; DROP TABLE raw.contracts;--"}
    negative_tick = {**good, "symbol": "ETHUSDTM", "tickSize": -0.1}
    missing = {k: v for k, v in good.items() if k != "multiplier"} | {"symbol": "LTCUSDTM"}
    markets = [{"info": good}, {"info": hostile}, {"info": negative_tick}, {"info": missing}, {"info": good}, {"info": "oops"}]
    result = validate_contracts(markets, SNAPSHOT)
    rules = sorted(r.rule for r in result.rejections)
    assert rules == ["duplicate_key", "multiplier:missing", "object:model_type", "symbol:string_pattern_mismatch", "tickSize:greater_than"]
    assert len(result.accepted) == 1
