"""Writers of one process take turns on SQLite instead of SQLite's busy-retry sleeps."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from framecast.store.db import Database


def test_a_second_writer_goes_in_when_the_first_commits(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'turns.db'}")
    db.upgrade()
    order: list[str] = []
    first_in, second_trying, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with db.write_session() as s:
            s.execute(text("INSERT INTO tenants (id, created_at) VALUES ('a', '2026-12-03')"))
            order.append("first in")
            first_in.set()
            assert second_trying.wait(30)
            # the second writer has had its chance to barge in; with turns it is still waiting
            second_in.wait(0.5)
            order.append("first commits")

    def second() -> None:
        assert first_in.wait(30)
        second_trying.set()
        with db.write_session() as s:
            order.append("second in")
            second_in.set()
            s.execute(text("INSERT INTO tenants (id, created_at) VALUES ('b', '2026-12-03')"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert order == ["first in", "first commits", "second in"]
    with db.session() as s:
        assert s.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 2
    db.dispose()
