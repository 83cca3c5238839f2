"""The database locked, and the disk full, while presses arrive: the service says so loudly (log and
metric), does not acknowledge what it could not store, and the broker's redelivery brings every press in
once the database can be written again."""

from __future__ import annotations

import resource
import sqlite3
import time
from pathlib import Path

from tests.reliability.support import PressLoad, account, delivered_presses, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.service import Service, write_config


def _storage_errors(service: Service) -> float:
    for line in service.get("/metrics").text.splitlines():
        if line.startswith('sharpeyes_mqtt_messages_total{outcome="storage_error"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _run(tmp_path: Path, mosquitto: Mosquitto, receiver, fault, heal) -> tuple[Service, object]:  # type: ignore[no-untyped-def]
    db = tmp_path / "se.db"
    cfg_path = tmp_path / "svc.yaml"
    cfg = write_config(cfg_path, mqtt_port=mosquitto.port, webhook_url=receiver.url, db=db)
    service = Service(cfg_path, cfg, tmp_path / "svc.log").start()
    load = PressLoad(mosquitto.port, [b["id"] for b in cfg["buttons"]], rate=20).start()
    try:
        time.sleep(1.0)
        state = fault(service, db)
        assert wait_until(lambda: _storage_errors(service) > 0, 20), service.log.read_text()[-2000:]
        time.sleep(2.0)
        heal(service, state)
        time.sleep(1.0)
        load.stop()
        published = list(load.published)
        assert wait_until(lambda: all(delivered_presses(receiver)[p] for p in published), 60), (
            service.log.read_text()[-3000:]
        )
        errors = _storage_errors(service)
        service.stop()
        result = account(published, receiver, db)
        result.extra = {"storage_errors_counted": errors}
        assert result.lost_in_store == [] and result.twice_in_store == [] and result.not_delivered == []
        log = service.log.read_text()
        assert "could not store" in log and "will be redelivered" in log
        return service, result
    finally:
        load.stop()
        service.kill9()


def test_database_locked_by_another_process(tmp_path: Path, mosquitto: Mosquitto, receiver) -> None:  # type: ignore[no-untyped-def]
    def lock(_service: Service, db: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(db, timeout=10, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
        return conn

    def unlock(_service: Service, conn: sqlite3.Connection) -> None:
        conn.execute("ROLLBACK")
        conn.close()

    _, result = _run(tmp_path, mosquitto, receiver, lock, unlock)
    print(f"\ndatabase locked: {result.line()}")  # type: ignore[attr-defined]


def test_disk_full(tmp_path: Path, mosquitto: Mosquitto, receiver) -> None:  # type: ignore[no-untyped-def]
    """A file-size limit on the running service (prlimit) makes every write that extends a file fail with
    EFBIG, which SQLite reports as a full disk; lifting it is the disk being freed."""

    def fill(service: Service, db: Path) -> tuple[int, int]:
        assert service.proc is not None
        pid = service.proc.pid
        before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (db.stat().st_size, before[1]))
        return before

    def free(service: Service, before: tuple[int, int]) -> None:
        assert service.proc is not None
        resource.prlimit(service.proc.pid, resource.RLIMIT_FSIZE, before)

    service, result = _run(tmp_path, mosquitto, receiver, fill, free)
    assert "disk is full" in service.log.read_text() or "disk I/O error" in service.log.read_text()
    print(f"\ndisk full: {result.line()}")  # type: ignore[attr-defined]
