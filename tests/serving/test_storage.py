"""The decision database: commits never checkpoint; a background thread does."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from fastapi.testclient import TestClient

from serving.storage import Database

SCHEMA = "CREATE TABLE IF NOT EXISTS blobs (payload BLOB NOT NULL);"


def test_the_log_reaches_the_database_file_through_background_checkpoints(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.sqlite"
    db = Database(path, SCHEMA, checkpoint_seconds=0.05)
    try:
        for _ in range(10):
            with db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO blobs VALUES (?)", [(os.urandom(4096),) for _ in range(20)]
                )
        deadline = time.monotonic() + 10
        while path.stat().st_size < 400_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= 400_000  # 800 KB written, copied into the main file
        with db.reading() as conn:
            assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 200
    finally:
        db.close()
    assert not db._checkpointer.is_alive()


def test_commits_leave_checkpoints_to_the_background(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    db = Database(path, SCHEMA, checkpoint_seconds=3600)  # the thread never gets to run
    try:
        with db.transaction() as conn:
            conn.executemany(
                "INSERT INTO blobs VALUES (?)", [(os.urandom(4096),) for _ in range(1500)]
            )  # ~6 MB: past SQLite's automatic checkpoint threshold (1,000 pages)
        assert path.stat().st_size < 1_000_000
        assert Path(f"{path}-wal").stat().st_size > 5_000_000
    finally:
        db.close()


def test_the_served_model_is_frozen_out_of_the_cyclic_collector(client: TestClient) -> None:
    assert client.get("/readyz").status_code == 200
    assert gc.get_freeze_count() > 100_000
