"""Migrations: they match the table models, upgrade existing data, and go back down cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

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


def test_upgrade_moves_external_task_ids_into_their_unique_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0003")
    engine = create_engine(url)
    insert = text(
        "INSERT INTO tasks (id, tenant, key_id, dialect, kind, model, request, inputs, echo, state, progress,"
        " attempt, seed, credits, priority, off_peak, cancel_requested, callback_url, created_at, updated_at,"
        " phase, lost_attempts) VALUES (:id, :tenant, 'k', 'kling', 'image', 'kling-v2-1', '{}', '{}', :echo,"
        " 'succeeded', 100, 1, 1, 0, 0, 0, 0, '', :at, :at, '', 0)"
    )
    with engine.begin() as conn:
        for task_id, tenant, ext, at in [
            ("1", "acme", "order-7", "2026-01-01 00:00:00"),
            ("2", "acme", "order-7", "2026-01-02 00:00:00"),  # a duplicate the old check-then-insert let in
            ("3", "other", "order-7", "2026-01-03 00:00:00"),  # another tenant may use the same id
            ("4", "acme", None, "2026-01-04 00:00:00"),
        ]:
            echo = json.dumps({"external_task_id": ext} if ext else {})
            conn.execute(insert, {"id": task_id, "tenant": tenant, "echo": echo, "at": at})
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, external_id FROM tasks ORDER BY id")).all()
    assert rows == [("1", "order-7"), ("2", None), ("3", "order-7"), ("4", None)]
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(text("UPDATE tasks SET external_id = 'order-7' WHERE id = '4'"))
    command.downgrade(cfg, "0003")
    assert "external_id" not in {c["name"] for c in inspect(create_engine(url)).get_columns("tasks")}
