"""Remove what a crash leaves behind: scratch folders of attempts that no longer run, result files of
attempts that never committed, and input images of creates that never got their task row.

``kill -9`` skips every ``finally``: a render's scratch folder under the work dir stays, and so do the
input images a create stored before its transaction committed. The sweeper runs at start (a crash
means a restart) and then periodically; it only removes what no live task can still need, and input
folders only once they are older than a create can take.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from framecast.storage import BlobStore
from framecast.store import tasks as task_store
from framecast.store.db import Database

log = logging.getLogger(__name__)

_SCRATCH = re.compile(r"^(?P<task>[0-9A-Za-z_]+)-a(?P<attempt>\d+)-")
# a create stores its inputs, then commits the task row within seconds; an hour is far past that
ORPHAN_AGE_S = 3600.0
_BATCH = 500


@dataclass
class Swept:
    scratch: int = 0  # folders under the work dir
    inputs: int = 0  # input folders with no task

    @property
    def total(self) -> int:
        return self.scratch + self.inputs


def sweep(
    db: Database,
    blobs: BlobStore,
    work_dir: Path,
    *,
    inputs: bool = True,
    now: float | None = None,
    orphan_age: float = ORPHAN_AGE_S,
) -> Swept:
    """Sweep the work dir, and with ``inputs`` the stored inputs too (a longer walk over the blob store)."""
    now = time.time() if now is None else now
    swept = Swept(
        scratch=_sweep_scratch(db, work_dir, now, orphan_age),
        inputs=_sweep_inputs(db, blobs, now, orphan_age) if inputs else 0,
    )
    if swept.total:
        log.info("swept %d scratch folder(s) and %d orphaned input folder(s)", swept.scratch, swept.inputs)
    return swept


def _sweep_scratch(db: Database, work_dir: Path, now: float, orphan_age: float) -> int:
    if not work_dir.is_dir():
        return 0
    owners: dict[Path, tuple[str, int] | None] = {}
    for entry in work_dir.iterdir():
        if not entry.is_dir():
            continue
        m = _SCRATCH.match(entry.name)
        owners[entry] = (m["task"], int(m["attempt"])) if m else None
    held = _running_attempts(db, {o[0] for o in owners.values() if o is not None})
    count = 0
    for path, owner in owners.items():
        if owner is not None:
            stale = held.get(owner[0]) != owner[1]
        else:  # not an attempt's folder: leave it unless nothing touched it for a long time
            try:
                stale = path.stat().st_mtime < now - orphan_age
            except FileNotFoundError:
                continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            count += 1
    return count


def _sweep_inputs(db: Database, blobs: BlobStore, now: float, orphan_age: float) -> int:
    old = [name for name, mtime in blobs.list_dirs("inputs") if mtime < now - orphan_age]
    count = 0
    for i in range(0, len(old), _BATCH):
        batch = old[i : i + _BATCH]
        with db.session() as s:
            known = task_store.existing_ids(s, task_ids=batch)
        for name in batch:
            if name not in known:
                blobs.delete_prefix(f"inputs/{name}")
                count += 1
    return count


def _running_attempts(db: Database, task_ids: set[str]) -> dict[str, int]:
    if not task_ids:
        return {}
    with db.session() as s:
        return task_store.running_attempts(s, task_ids=sorted(task_ids))
