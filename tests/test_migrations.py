"""`alembic upgrade head` builds exactly the schema of ``app.models``, on SQLite and PostgreSQL,
and the migrations run down to base and back up again.

Every test gets an empty database from conftest's parametrized ``database_url`` fixture: a temp
SQLite file, or a fresh PostgreSQL schema that is the only one on the connection's search_path.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pprint import pformat
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Engine, inspect, text

from app.core.db import create_db_engine
from app.core.migrate import alembic_config, upgrade_to_head
from app.models import Base
from tests.conftest import fresh_schema

VERSION_TABLE = "alembic_version"
MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def schema_diff(engine: Engine) -> list[Any]:
    """Alembic's autogenerate diff between the database and the models (empty when equal)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diff: list[Any] = compare_metadata(context, Base.metadata)
    return diff


def assert_no_diff(engine: Engine) -> None:
    diff = schema_diff(engine)
    assert diff == [], "migrated schema differs from app.models:\n" + pformat(diff)


def run_alembic(engine: Engine, action: Callable[[Config, str], None], revision: str) -> None:
    """Run an alembic command on the engine's database, as app.core.migrate.upgrade_to_head does."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        action(config, revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def table_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _comparable_index(index: Any) -> dict[str, Any]:
    """A partial index's WHERE clause is reflected as a TextClause, which compares by identity:
    compare its SQL text instead."""
    options = {key: str(value) for key, value in index.get("dialect_options", {}).items()}
    return {**index, "dialect_options": options}


def reflected_schema(engine: Engine) -> dict[str, dict[str, Any]]:
    """Everything reflection reports about each model table, including what autogenerate does
    not compare (CHECK constraints, foreign key options, column defaults)."""
    snapshot: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        inspector = inspect(conn)
        for table in sorted(MODEL_TABLES):
            snapshot[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                    for c in inspector.get_columns(table)
                ],
                "primary_key": inspector.get_pk_constraint(table),
                "foreign_keys": sorted(
                    inspector.get_foreign_keys(table), key=lambda fk: str(fk["name"])
                ),
                "unique": sorted(
                    inspector.get_unique_constraints(table), key=lambda u: str(u["name"])
                ),
                "indexes": sorted(
                    (_comparable_index(i) for i in inspector.get_indexes(table)),
                    key=lambda i: str(i["name"]),
                ),
                "checks": sorted(
                    (c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table)
                ),
            }
    return snapshot


def diff_summary(diff: list[Any]) -> set[tuple[str, str]]:
    """``(operation, object name)`` of each entry of a diff of plain operations."""
    return {(entry[0], entry[1].name) for entry in diff}


# What autogenerate must report against an empty database: every table and every index.
EVERYTHING_MISSING = {("add_table", name) for name in MODEL_TABLES} | {
    ("add_index", str(index.name))
    for table in Base.metadata.tables.values()
    for index in table.indexes
}


def test_upgrade_head_yields_the_models_schema(engine: Engine) -> None:
    """After `upgrade head` autogenerate finds no difference from the models and the database is
    stamped with the head revision."""
    upgrade_to_head(engine)
    assert_no_diff(engine)
    assert table_names(engine) == MODEL_TABLES | {VERSION_TABLE}
    assert current_revision(engine) == head_revision()


def test_comparison_detects_missing_tables(engine: Engine) -> None:
    """The comparison is not vacuous: on an empty database it reports every model table and
    index as missing, and nothing else."""
    assert MODEL_TABLES
    diff = schema_diff(engine)
    assert diff_summary(diff) == EVERYTHING_MISSING, pformat(diff)
    assert len(diff) == len(EVERYTHING_MISSING)


def test_migrated_schema_reflects_like_create_all(engine: Engine) -> None:
    """Reflection of the migrated schema (including CHECK constraints, which autogenerate does
    not compare) equals reflection of the schema the models create directly."""
    Base.metadata.create_all(engine)
    from_models = reflected_schema(engine)
    Base.metadata.drop_all(engine)
    assert table_names(engine) == set()

    upgrade_to_head(engine)
    from_migrations = reflected_schema(engine)
    assert from_migrations == from_models
    # CHECK reflection is not silently empty: every model CHECK constraint was found.
    model_checks = {
        name: sum(isinstance(c, CheckConstraint) for c in table.constraints)
        for name, table in Base.metadata.tables.items()
    }
    assert {name: len(s["checks"]) for name, s in from_migrations.items()} == model_checks


def test_downgrade_to_base_then_upgrade_to_head(engine: Engine) -> None:
    """Every migration can be undone: base leaves no model table behind, and upgrading again
    rebuilds exactly the models' schema."""
    upgrade_to_head(engine)
    run_alembic(engine, command.downgrade, "base")
    assert table_names(engine) - {VERSION_TABLE} == set()
    assert current_revision(engine) is None

    run_alembic(engine, command.upgrade, "head")
    assert current_revision(engine) == head_revision()
    assert_no_diff(engine)


def test_upgrade_head_is_idempotent(engine: Engine) -> None:
    """Running `upgrade head` on an up-to-date database (every service start does) is a no-op."""
    upgrade_to_head(engine)
    upgrade_to_head(engine)
    assert current_revision(engine) == head_revision()
    assert_no_diff(engine)


def decoy_schema() -> AbstractContextManager[str]:
    """A second PostgreSQL schema, dropped afterwards; yields its search_path URL."""
    return fresh_schema("t_decoy")


def test_postgres_comparison_sees_only_the_test_schema(postgres_schema_url: str) -> None:
    """On PostgreSQL the comparison reflects the search_path schema only: same-named tables and
    stray tables in another schema neither hide missing tables nor show up as extra ones."""
    engine = create_db_engine(postgres_schema_url)
    with decoy_schema() as decoy_url:
        decoy = create_db_engine(decoy_url)
        try:
            upgrade_to_head(decoy)
            with decoy.begin() as conn:
                conn.execute(text("CREATE TABLE stray_table (id integer PRIMARY KEY)"))

            with engine.connect() as conn:
                default_schema = inspect(conn).default_schema_name
            assert default_schema and postgres_schema_url.endswith(default_schema)
            missing = schema_diff(engine)
            assert diff_summary(missing) == EVERYTHING_MISSING, pformat(missing)

            upgrade_to_head(engine)
            assert_no_diff(engine)
            assert "stray_table" not in table_names(engine)
        finally:
            decoy.dispose()
            engine.dispose()
