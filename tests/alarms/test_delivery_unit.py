"""The delivery worker against a real, signature-verifying HTTP receiver (sharpeyes.receiver): delivered,
retried with the same webhook-id, dead letters, receiver down then up, rows left pending by a restart."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alarms.config import RetryConfig, WebhookConfig
from alarms.delivery.worker import DeliveryWorker, Endpoint
from sharpeyes.receiver import Behaviour, DispatchReceiver

SECRET = "whsec_c2hhcnBleWVzLXRlc3Qtc2VjcmV0LTAxMjM0NTY3"
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


class Script:
    """Receiver behaviour by attempt number: statuses[n] for attempt n+1, the last one repeating."""

    def __init__(
        self, receiver: DispatchReceiver, statuses: list[int], headers: dict[str, str] | None = None
    ):
        self.receiver = receiver
        self.statuses = statuses
        self.headers = headers or {}
        self.delay_s = 0.0
        self.times: list[float] = []

    @property
    def status(self) -> int:
        n = self.receiver.attempts
        if len(self.times) < n:
            self.times.append(time.monotonic())
        return self.statuses[min(n - 1, len(self.statuses) - 1)]


async def wait_until(predicate: Callable[[], Any], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await asyncio.sleep(0.02)


def webhook(url: str, **retry: Any) -> WebhookConfig:
    return WebhookConfig(
        name="police",
        url=url,
        secret_env="X",
        timeout_s=2,
        retry=RetryConfig(**({"delays_s": [0.2]} | retry)),
    )


class Harness:
    def __init__(  # type: ignore[no-untyped-def]
        self, rig, hooks: list[WebhookConfig], secret: str = SECRET, mqtt_fail: int = 0, sweep_s: float = 30.0
    ) -> None:
        self.rig = rig
        self.published: list[tuple[str, str]] = []
        self.dead: list[tuple[Any, str]] = []
        self.mqtt_fail = mqtt_fail
        self.worker = DeliveryWorker(
            rig.store,
            {h.name: Endpoint.build(h, secret) for h in hooks},
            rig.engine.metrics,
            mqtt_publish=self._publish,
            on_dead_letter=self._dead,
            sweep_s=sweep_s,
        )

    async def start(self) -> None:
        """Start; the first sweep runs concurrently with the test's submit (a stale sweep must not
        resend what the in-memory path delivered)."""
        await self.worker.start()

    async def _publish(self, topic: str, payload: str) -> None:
        if self.mqtt_fail > 0:
            self.mqtt_fail -= 1
            raise ConnectionError("broker away")
        self.published.append((topic, payload))

    def _dead(self, item, error: str) -> None:  # type: ignore[no-untyped-def]
        self.dead.append((item, error))
        self.rig.engine.dispatch_failed(item.incident_id, item.target, error)

    def rows(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.rig.outbox_rows() if channel is None or r["channel"] == channel]

    def webhook_row(self) -> dict[str, Any]:
        [row] = self.rows("webhook")
        return row

    def settled(self) -> bool:
        return all(r["status"] != "pending" for r in self.rows())

    def count(self, result: str) -> float | None:
        return self.rig.registry.get_sample_value(
            "sharpeyes_deliveries_total", {"channel": "webhook", "target": "police", "result": result}
        )


def stop_later(r: DispatchReceiver) -> None:
    """shutdown() waits up to the server's 0.5 s poll interval; nothing needs to wait for it."""
    threading.Thread(target=r.stop, daemon=True).start()


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[DispatchReceiver]:
    r = DispatchReceiver(SECRET).start()
    yield r
    stop_later(r)


@pytest.fixture
def receiver(shared_receiver: DispatchReceiver) -> DispatchReceiver:
    """One real receiver for the module, reset for each test."""
    r = shared_receiver
    with r._cond:
        r.received.clear()
        r.attempts = r.bad_signatures = r.duplicates = 0
        r.behaviour = Behaviour()
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def real_time_rig(make_rig):  # type: ignore[no-untyped-def]
    """The engine on the wall clock, so rows are due for the worker at once."""

    def build(hooks: list[WebhookConfig]):  # type: ignore[no-untyped-def]
        rig = make_rig(webhooks=hooks)
        rig.clock.now = time.time()
        return rig

    return build


async def test_delivered(real_time_rig, receiver: DispatchReceiver) -> None:  # type: ignore[no-untyped-def]
    rig = real_time_rig([webhook(receiver.url)])
    h = Harness(rig, [webhook(receiver.url)])
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(h.settled)
    finally:
        await h.worker.stop()
    row = h.webhook_row()
    assert (row["status"], row["attempts"], row["last_status"], row["last_error"]) == (
        "delivered",
        1,
        200,
        None,
    )
    assert row["delivered_at"] is not None
    assert list(receiver.received) == [row["msg_id"]]
    got = receiver.received[row["msg_id"]].body
    assert got == json.loads(row["payload"])
    assert (got["type"], got["data"]["id"], got["data"]["version"]) == (
        "incident.created",
        change.incident.id,
        1,
    )
    assert receiver.bad_signatures == 0 and receiver.duplicates == 0
    mqtt_rows = h.rows("mqtt")  # the incident topic, and the button's `received` receipt
    assert sorted(r["target"].rsplit("/", 1)[-1] for r in mqtt_rows) == ["G-001", "ack"]
    assert {r["status"] for r in mqtt_rows} == {"delivered"}
    assert sorted(h.published) == sorted((r["target"], r["payload"]) for r in mqtt_rows)
    assert rig.engine.get(change.incident.id).dispatch_status == "delivered"
    assert h.count("delivered") == 1.0 and h.dead == []


@pytest.mark.parametrize(
    ("statuses", "headers"),
    [
        ([500, 200], {}),
        pytest.param([503, 502, 200], {}, marks=SQLITE_ONLY),
        pytest.param([429, 200], {"retry-after": "0"}, marks=SQLITE_ONLY),
    ],
)
async def test_retried_with_same_webhook_id(real_time_rig, receiver, statuses, headers) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    script = Script(receiver, statuses, headers)
    receiver.behaviour = script  # type: ignore[assignment]
    h = Harness(rig, hooks)
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(h.settled)
    finally:
        await h.worker.stop()
    row = h.webhook_row()
    assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", len(statuses), 200)
    assert receiver.attempts == len(statuses)
    assert list(receiver.received) == [row["msg_id"]]  # the retry carried the original webhook-id
    gaps = [b - a for a, b in zip(script.times, script.times[1:], strict=False)]
    assert len(gaps) == len(statuses) - 1
    assert all(0.15 <= g < 2.0 for g in gaps), gaps  # 0.2 s ± 20 % jitter, not immediately
    assert h.count("retry") == len(statuses) - 1 and h.count("delivered") == 1.0
    assert h.dead == []


@SQLITE_ONLY
async def test_retry_after_is_respected(real_time_rig, receiver) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    script = Script(receiver, [429, 200], {"retry-after": "1"})
    receiver.behaviour = script  # type: ignore[assignment]
    h = Harness(rig, hooks)
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(h.settled)
    finally:
        await h.worker.stop()
    assert h.webhook_row()["status"] == "delivered"
    assert script.times[1] - script.times[0] >= 0.95


@SQLITE_ONLY
@pytest.mark.parametrize("status", [400, 401, 404, 410])
async def test_client_error_is_dead_at_once(real_time_rig, receiver, status: int) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    receiver.behaviour = Script(receiver, [status, 200])  # type: ignore[assignment]
    h = Harness(rig, hooks)
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(lambda: len(h.dead) == 1)
        await asyncio.sleep(0.3)  # longer than the retry delay: nothing more may happen
    finally:
        await h.worker.stop()
    row = h.webhook_row()
    assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 1, status)
    assert receiver.attempts == 1 and receiver.received == {}
    [(item, error)] = h.dead
    assert (item.msg_id, item.target, item.incident_id, error) == (
        row["msg_id"],
        "police",
        change.incident.id,
        f"HTTP {status}",
    )
    # wired as in the runtime: the dead letter is an alarm
    assert rig.engine.get(change.incident.id).dispatch_status == "not_reached"
    failures = [r for r in rig.incident_rows() if r["category"] == "dispatch_failure"]
    assert [(f["source_id"], f["state"]) for f in failures] == [("police", "reported")]
    assert h.count("dead") == 1.0


@SQLITE_ONLY
async def test_exhausted_retries_go_dead(real_time_rig, receiver) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url, delays_s=[0.05], max_attempts=3)]
    rig = real_time_rig(hooks)
    receiver.behaviour = Script(receiver, [500])  # type: ignore[assignment]
    h = Harness(rig, hooks)
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(lambda: len(h.dead) == 1)
    finally:
        await h.worker.stop()
    row = h.webhook_row()
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 3, "HTTP 500")
    assert receiver.attempts == 3 and h.dead[0][1] == "HTTP 500"


@SQLITE_ONLY
async def test_wrong_secret_is_refused_by_receiver(real_time_rig, receiver) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    h = Harness(rig, hooks, secret="whsec_" + "d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdA==")
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(lambda: len(h.dead) == 1)
    finally:
        await h.worker.stop()
    assert receiver.bad_signatures == 1 and receiver.received == {}
    assert h.webhook_row()["last_status"] == 401


@SQLITE_ONLY
async def test_unknown_endpoint_is_dead(real_time_rig) -> None:  # type: ignore[no-untyped-def]
    rig = real_time_rig([webhook("http://127.0.0.1:9/hook")])
    h = Harness(rig, [])  # the worker knows no endpoint named police
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(lambda: len(h.dead) == 1)
    finally:
        await h.worker.stop()
    row = h.webhook_row()
    assert row["status"] == "dead" and "police" in row["last_error"]


async def test_receiver_down_then_up(real_time_rig) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens there: connection refused
    url = f"http://127.0.0.1:{port}/hook"
    hooks = [webhook(url, delays_s=[0.1])]
    rig = real_time_rig(hooks)
    h = Harness(rig, hooks)
    back: DispatchReceiver | None = None
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(lambda: h.webhook_row()["attempts"] >= 2)
        row = h.webhook_row()
        assert row["status"] == "pending" and row["last_status"] is None and "Connect" in row["last_error"]
        back = DispatchReceiver(SECRET, port=port).start()
        await wait_until(h.settled)
    finally:
        await h.worker.stop()
        if back is not None:
            stop_later(back)
    row = h.webhook_row()
    assert (row["status"], row["last_status"], row["last_error"]) == ("delivered", 200, None)
    assert back is not None and list(back.received) == [row["msg_id"]]
    assert rig.engine.get(change.incident.id).dispatch_status == "delivered"
    assert h.dead == []


async def test_sweep_delivers_rows_left_pending(real_time_rig, receiver) -> None:  # type: ignore[no-untyped-def]
    """Rows committed while no worker ran (a crash, a restart) go out without being submitted."""
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    rig.press("B-001", seq=1)
    rig.press("B-002", seq=1)
    rig.press("B-001", seq=2)
    h = Harness(rig, hooks, sweep_s=0.1)
    assert len(h.rows("webhook")) == 3 and not h.settled()
    await h.worker.start()
    try:
        await wait_until(h.settled)
    finally:
        await h.worker.stop()
    assert {r["status"] for r in h.rows()} == {"delivered"}
    assert set(receiver.received) == {r["msg_id"] for r in h.rows("webhook")}
    assert len(h.published) == 6  # per press: the incident topic and the pole's receipt


@SQLITE_ONLY
async def test_mqtt_failure_is_retried(real_time_rig, receiver) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    h = Harness(rig, hooks, mqtt_fail=1)
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(h.settled, within=5.0)
    finally:
        await h.worker.stop()
    mqtt_rows = h.rows("mqtt")  # the incident topic and the receipt: the first publish failed once
    assert sorted((r["status"], r["attempts"]) for r in mqtt_rows) == [("delivered", 1), ("delivered", 2)]
    assert len(h.published) == 2 and h.dead == []  # an MQTT failure is not a dispatch dead letter


@SQLITE_ONLY
async def test_sweep_does_not_resend_what_submit_delivered(real_time_rig, receiver) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    [change] = rig.press(seq=1)  # committed; its in-memory submit is on its way
    h = Harness(rig, hooks, sweep_s=30)
    original = h.worker._due

    def slow_due(now: float):  # type: ignore[no-untyped-def]
        out = original(now)  # reads the row while it is still pending
        time.sleep(0.3)  # a slow database round trip
        return out

    h.worker._due = slow_due  # type: ignore[method-assign]
    await h.worker.start()
    try:
        h.worker.submit(change.outbox)
        await wait_until(h.settled)
        await asyncio.sleep(0.6)
    finally:
        await h.worker.stop()
    assert receiver.attempts == 1, f"webhook POSTed {receiver.attempts} times"


class BrokenResponses:
    """An HTTP server that reads each request, then answers the first `broken` ones with a response cut
    off mid-body (connection reset), and a proper 200 after that."""

    def __init__(self, broken: int) -> None:
        self.broken = broken
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(
                    next(
                        h.split(b":")[1]
                        for h in head.split(b"\r\n")
                        if h.lower().startswith(b"content-length")
                    )
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(head)
                if len(self.requests) <= self.broken:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self) -> None:
        self.sock.close()


@SQLITE_ONLY
async def test_connection_closed_mid_body_is_retried_with_the_same_id(real_time_rig) -> None:  # type: ignore[no-untyped-def]
    server = BrokenResponses(broken=2)
    hooks = [webhook(server.url, delays_s=[0.05])]
    rig = real_time_rig(hooks)
    h = Harness(rig, hooks)
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(h.settled)
    finally:
        await h.worker.stop()
        server.close()
    row = h.webhook_row()
    assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 3, 200)
    ids = {line for head in server.requests for line in head.split(b"\r\n") if line.startswith(b"webhook-id")}
    assert len(server.requests) == 3 and len(ids) == 1  # one message, sent three times


@SQLITE_ONLY
async def test_slow_receiver_times_out_and_is_retried(real_time_rig, receiver) -> None:  # type: ignore[no-untyped-def]
    hooks = [webhook(receiver.url, delays_s=[0.05], max_attempts=2).model_copy(update={"timeout_s": 0.2})]
    rig = real_time_rig(hooks)
    receiver.behaviour = Behaviour(delay_s=0.5)
    h = Harness(rig, hooks)
    await h.start()
    try:
        [change] = rig.press(seq=1)
        h.worker.submit(change.outbox)
        await wait_until(lambda: len(h.dead) == 1)
    finally:
        await h.worker.stop()
    row = h.webhook_row()
    assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 2, "timeout")
    assert receiver.attempts == 2


@pytest.fixture
def own_receiver() -> Iterator[DispatchReceiver]:
    """A receiver of its own: a slow request of an earlier test cannot land in this one's record."""
    r = DispatchReceiver(SECRET).start()
    yield r
    stop_later(r)


async def test_changes_of_one_incident_arrive_in_version_order(real_time_rig, own_receiver) -> None:  # type: ignore[no-untyped-def]
    """v1 fails once and v2 would succeed at once: v2 waits for v1 instead of overtaking it."""
    receiver = own_receiver
    hooks = [webhook(receiver.url)]
    rig = real_time_rig(hooks)
    receiver.behaviour = Script(receiver, [503, 200])  # type: ignore[assignment]
    h = Harness(rig, hooks)
    await h.start()
    try:
        [created] = rig.press(seq=1)
        [updated] = rig.press(seq=2)
        h.worker.submit(created.outbox + updated.outbox)
        await wait_until(h.settled)
    finally:
        await h.worker.stop()
    versions = [r.body["data"]["version"] for r in receiver.received.values()]
    assert [r.body["type"] for r in receiver.received.values()] == ["incident.created", "incident.updated"]
    assert versions == [1, 2]


async def test_a_backlog_goes_on_the_first_successful_probe(real_time_rig, own_receiver) -> None:  # type: ignore[no-untyped-def]
    """Rows waiting out a 30 s backoff are sent as soon as a probe (every 0.2 s, not counted) gets through."""
    receiver = own_receiver
    hooks = [webhook(receiver.url, delays_s=[30.0], probe_s=0.2)]
    rig = real_time_rig(hooks)
    receiver.behaviour.status = 503
    h = Harness(rig, hooks)
    await h.start()
    try:
        changes = [c for b in ("B-001", "B-002", "B-003") for c in rig.press(button=b, seq=1)]
        h.worker.submit([item for c in changes for item in c.outbox])
        await wait_until(lambda: all(r["attempts"] >= 1 for r in h.rows("webhook")))
        await asyncio.sleep(0.7)  # several probes fail meanwhile
        receiver.behaviour.status = 200
        back_at = time.monotonic()
        await wait_until(h.settled, within=5.0)
        drained_s = time.monotonic() - back_at
    finally:
        await h.worker.stop()
    rows = h.rows("webhook")
    assert len(rows) == 3 and {r["status"] for r in rows} == {"delivered"}
    assert drained_s < 2.0
    assert max(r["attempts"] for r in rows) == 2  # the failed probes were free tries
    assert receiver.attempts > 6  # 3 first tries, the probes, then the released rows
