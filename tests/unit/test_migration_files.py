"""Migration files are well-formed and versioned without gaps or duplicates."""

from pathlib import Path

import pytest

from models.migrate import MigrationError, discover


def test_shipped_migrations_are_numbered_consecutively() -> None:
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))


def test_misnamed_and_duplicate_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "V0001__first.sql").write_text("select 1;")
    (tmp_path / "V0001__again.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="version 1 is also used"):
        discover(tmp_path)
    (tmp_path / "V0001__again.sql").unlink()
    (tmp_path / "0002-second.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="must be named"):
        discover(tmp_path)
