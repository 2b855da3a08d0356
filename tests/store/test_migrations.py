"""Migrations: they match the table models, upgrade existing data, and go back down cleanly."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from framecast.store.db import Database, alembic_config
from framecast.store.tables import Base


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    Database(url).upgrade()
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"tables differ from the migrations; write a migration: {diff}"


def test_upgrade_keeps_existing_keys_and_gives_them_tenants(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0001")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (id, tenant, name, prefix, key_hash, created_at) "
                "VALUES ('key_1', 'acme', 'old', 'fc-abc', 'h1', CURRENT_TIMESTAMP)"
            )
        )
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, credits FROM tenants")).all() == [("acme", None)]
        assert conn.execute(text("SELECT webhook_secret FROM api_keys")).scalar() == ""
    command.downgrade(cfg, "base")
    assert set(inspect(create_engine(url)).get_table_names()) <= {"alembic_version"}
