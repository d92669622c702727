"""Nothing in the dbt project reads the build window while parsing (dbt_project/macros/window.sql):
else the window would be baked into the parsed nodes, or every hourly run would parse the whole
project again. These read the project's files, so a model or YAML file added later is checked too."""

import re
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR

WINDOW_VAR = re.compile(r"""var\(\s*['"]window_(start|end)['"]""")
DELETE_PREDICATE = re.compile(r"incremental_predicates=\[[^\]]*_delete_predicate\(")


def project_files(*suffixes: str) -> list[Path]:
    skipped = {"target", "logs", "dbt_packages"}
    return [p for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in suffixes and not skipped & set(p.relative_to(DBT_PROJECT_DIR).parts)]


def test_only_the_window_macros_read_the_window_vars() -> None:
    readers = [str(p.relative_to(DBT_PROJECT_DIR)) for p in project_files(".sql", ".yml") if p.name != "window.sql" and WINDOW_VAR.search(p.read_text())]
    assert readers == [], (
        f"{readers} read var('window_start'/'window_end'), which the hourly runs do not set (the window comes from "
        "ZMART_DBT_WINDOW_*): use window_start()/window_end() in SQL, __window_start__/__window_end__ in a data test's where"
    )


def test_models_with_a_window_delete_predicate_render_it_at_execution() -> None:
    # the predicate macros return Jinja that only the window_delete_insert strategy renders
    models = [p for p in project_files(".sql") if "models" in p.relative_to(DBT_PROJECT_DIR).parts and DELETE_PREDICATE.search(p.read_text())]
    wrong = [p.name for p in models if 'incremental_strategy="window_delete_insert"' not in p.read_text()]
    assert models and wrong == [], f"{wrong}: a window delete predicate needs incremental_strategy=\"window_delete_insert\""
