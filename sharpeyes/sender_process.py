"""`delivery.sender: own_process`: the local runtime's webhooks and MQTT notices leave from a child process.

Why: in a burst (1,000 buttons pressed in one second) storing the presses and sending their webhooks,
receipts and incident topics share one GIL, and sending with its bookkeeping costs about as much CPU as
storing (benchmarks/README.md, issue 19.1). In a process of its own the sending runs on the other core.
Rows are in the outbox before they are handed over, so a child that dies loses nothing: the next one's
sweep sends what was pending (the same guarantee as a restart of the whole service).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import queue
import threading
from collections.abc import Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from alarms.delivery.outbox import OutboxItem
from alarms.engine import IncidentEngine
from alarms.metrics import AlarmMetrics
from sharpeyes.sender_child import COUNTERS, GAUGES, OBSERVED, Message, sender_main
from sharpeyes.settings import Settings

log = logging.getLogger(__name__)


def sender_env(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """Only the secrets the sender needs cross to the child (webhook keys, the broker password)."""
    names = {w.secret_env for w in settings.webhooks}
    if settings.mqtt.password_env:
        names.add(settings.mqtt.password_env)
    return {n: env[n] for n in names if n in env}


class ProcessDelivery:
    """The parent side: an :class:`~alarms.delivery.port.OutboxDelivery` whose sends happen in the child."""

    def __init__(
        self, settings: Settings, env: Mapping[str, str], engine: IncidentEngine, metrics: AlarmMetrics
    ) -> None:
        self.settings, self.env = settings, sender_env(settings, env)
        self.engine, self.metrics = engine, metrics
        self.restart_s = settings.delivery.restart_s
        self.ready = threading.Event()
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._conn: Connection | None = None
        self._child: BaseProcess | None = None
        self._outq: queue.SimpleQueue[tuple[str, list[OutboxItem]]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def child_pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    async def start(self) -> None:
        await asyncio.to_thread(self._spawn)
        for target, name in ((self._send_loop, "sender-handoff"), (self._read_loop, "sender-replies")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    async def stop(self) -> None:
        self._stopping.set()
        self._outq.put(("stop", []))
        await asyncio.to_thread(self._join)

    def submit_threadsafe(self, items: list[OutboxItem]) -> None:
        """From the engine's thread after commit: queued, never blocking the press path on the pipe."""
        if items and not self._stopping.is_set():
            self._outq.put(("items", items))

    def resubmit(self, item: OutboxItem) -> None:
        self._outq.put(("resubmit", [item]))

    # ----- the child -------------------------------------------------------------------------------------
    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=sender_main, args=(self.settings, self.env, child), name="sharpeyes-sender", daemon=True
        )
        proc.start()
        child.close()
        self._conn, self._child = parent, proc
        log.info("delivery sender process %s started", proc.pid)

    def _join(self) -> None:
        child = self._child
        if child is not None:
            child.join(timeout=15)
            if child.is_alive():
                log.warning("delivery sender process %s did not stop in 15 s; terminating it", child.pid)
                child.terminate()
                child.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)
        if self._conn is not None:
            self._conn.close()

    def _send_loop(self) -> None:
        """Hands rows to the child, several commits per pipe write when they pile up; ends after stop."""
        held: tuple[str, list[OutboxItem]] | None = None
        while True:
            kind, items = held if held is not None else self._outq.get()
            held = None
            while kind == "items":
                try:
                    nxt = self._outq.get_nowait()
                except queue.Empty:
                    break
                if nxt[0] != "items":
                    held = nxt  # written next, so a stop or a retry keeps its place
                    break
                items = items + nxt[1]
            conn = self._conn
            try:
                if conn is not None:
                    conn.send((kind, items))
            except (OSError, ValueError):
                # The child is gone or restarting: the rows stay pending in the outbox; its successor's
                # sweep sends them.
                log.debug("sender process unreachable; %d rows wait for the next sweep", len(items))
            if kind == "stop":
                return

    def _read_loop(self) -> None:
        """Replies from the child; when it dies unexpectedly, start another after `restart_s`."""
        while not self._stopping.is_set():
            conn = self._conn
            try:
                batch = conn.recv() if conn is not None else None
            except (EOFError, OSError):
                batch = None
            if batch is None:
                if self._stopping.is_set():
                    return
                self._restart()
                continue
            for msg in batch:
                try:
                    self._apply(msg)
                except Exception:
                    log.exception("could not apply the sender process's message %s", msg[0])

    def _restart(self) -> None:
        self.ready.clear()
        child = self._child
        code = child.exitcode if child is not None else None
        log.error(
            "delivery sender process %s ended (exit code %s); starting another in %.1f s — pending rows "
            "are kept and sent by it",
            child.pid if child is not None else "?",
            code,
            self.restart_s,
        )
        if child is not None:
            child.join(timeout=1)
        if self._stopping.wait(self.restart_s):
            return
        self.restarts += 1
        self._spawn()

    def _apply(self, msg: Message) -> None:
        kind = msg[0]
        if kind == "delivered":
            self.engine.announce_delivered(set(msg[1]))
        elif kind == "dead":
            self.engine.dispatch_failed(msg[1], msg[2], msg[3])
        elif kind == "obs" and msg[1] in OBSERVED:
            getattr(self.metrics, msg[1]).observe(msg[2])
        elif kind == "set" and msg[1] in GAUGES:
            getattr(self.metrics, msg[1]).set(msg[2])
        elif kind == "inc" and msg[1] in COUNTERS:
            metric: Any = getattr(self.metrics, msg[1])
            metric.labels(*msg[2]).inc(msg[3])
        elif kind == "ready":
            self.ready.set()
