"""Press → webhook through the delivery work queue (`--role delivery`) against in-process delivery.

Why: with `runtime: ray` a webhook leaves through JetStream and a separate delivery process instead of the
API process's own worker; this measures what that hop costs a panic press. Both modes in the same run, on
the same PostgreSQL database, private nats-server and signature-checking receiver:

- local: the engine's commits go straight to a DeliveryWorker in the same process (the local runtime).
- queue: the engine's commits are published to the work queue; a `sharpeyes run --role delivery` process
  (a real one, as deployed) pulls, sends, records and acks.

Latency is the receiver's arrival time minus the press's receipt time, so it includes the engine's commit.

    .venv/bin/python benchmarks/delivery_queue.py [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECRET = "bench-secret-0123456789abcdef"
ENV = {"BENCH_WEBHOOK_SECRET": SECRET}


def doc(pg: str, nats_url: str, hook_url: str, n_buttons: int, stream: str) -> dict[str, Any]:
    return {
        "runtime": "ray",
        "storage": {"url": pg},
        "mqtt": {"host": "127.0.0.1", "port": 1, "embedded": False},  # MQTT notices: not measured
        "grids": [{"id": "G-001", "name": "one", "community": "C-1", "street": "S-1"}],
        "buttons": [{"id": f"B-{i:05d}", "grid": "G-001"} for i in range(n_buttons)],
        "webhooks": [{"name": "police", "url": hook_url, "secret_env": "BENCH_WEBHOOK_SECRET"}],
        "distributed": {"nats_url": nats_url, "delivery": {"stream": stream}},
    }


def pressing(engine: Any, first: int, rate: float, seconds: float) -> dict[str, float]:
    """Presses at a steady rate from one thread, as the MQTT listener hands them on; returns id → time."""
    from ingest.types import PanicSignal, SignalKind

    sent: dict[str, float] = {}
    n = int(rate * seconds)
    t0 = time.perf_counter()
    for k in range(n):
        due = t0 + k / rate
        while (left := due - time.perf_counter()) > 0:
            time.sleep(left)
        now = time.time()
        button = f"B-{first + k:05d}"
        sent[button] = now
        engine.ingest_signals([PanicSignal(button, SignalKind.PRESS, now, now, seq=1)])
    return sent


def latencies(receiver: Any, sent: dict[str, float], within: float) -> list[float]:
    def arrived(r: dict[str, Any]) -> bool:
        return sum(1 for x in r.values() if x.body["data"]["source_id"] in sent) >= len(sent)

    receiver.wait_for(arrived, within)
    out = []
    for r in list(receiver.received.values()):
        button = r.body["data"]["source_id"]
        if button in sent:
            out.append(r.received_at - sent[button])
    return out


def summary(name: str, lat: list[float], n: int) -> tuple[float, float]:
    lat = sorted(lat)
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    worst = lat[-1] * 1000
    print(f"{name:6s} {len(lat)}/{n} delivered  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {worst:6.1f} ms")
    return p50, p99


def delivery_process(cfg_path: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "run", "--role", "delivery", "-c", str(cfg_path)],
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


async def run(pg: str, nats_url: str, rate: float, seconds: float, tmp: Path) -> None:
    import nats
    from prometheus_client import CollectorRegistry

    from alarms.delivery.worker import DeliveryWorker, Endpoint
    from jetstream.delivery_queue import DeliveryPublisher, ensure_delivery_stream, publish_outbox
    from sharpeyes.distributed.engine_role import build_engine
    from sharpeyes.receiver import DispatchReceiver
    from sharpeyes.settings import parse_settings

    n = int(rate * seconds)
    receiver = DispatchReceiver(SECRET).start()
    stream = "BENCH_DELIVERIES"
    cfg = doc(pg, nats_url, receiver.url, 2 * n, stream)
    settings = parse_settings(yaml.safe_dump(cfg), "bench.yaml", env=ENV)
    store, engine = build_engine(settings, CollectorRegistry())
    engine.warm_up()
    loop = asyncio.get_running_loop()

    # local: the worker in this process, as the local runtime wires it
    endpoints = {w.name: Endpoint.build(w, SECRET) for w in settings.webhooks}
    worker = DeliveryWorker(store, endpoints, engine.metrics, mark_delivered=engine.mark_delivered)
    await worker.start()

    def to_worker(changes: list[Any]) -> None:
        worker.submit_threadsafe([i for c in changes for i in c.outbox if i.channel == "webhook"])

    engine.subscribe_batch(to_worker)
    sent = await asyncio.to_thread(pressing, engine, 0, rate, seconds)
    local = await asyncio.to_thread(latencies, receiver, sent, 30)
    await worker.stop()
    engine.batch_listeners.remove(to_worker)

    # queue: publish after commit; a real --role delivery process sends
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_delivery_stream(js, stream)
    publisher = DeliveryPublisher(js, stream)
    publisher.bind(loop)
    publish_outbox(engine, publisher)
    cfg_path = tmp / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    proc = await asyncio.to_thread(delivery_process, cfg_path, tmp / "delivery.log")
    try:
        for _ in range(200):  # its consumers exist: it is pulling
            try:
                await js.consumer_info(stream, "delivery-life")
                break
            except Exception:
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        sent = await asyncio.to_thread(pressing, engine, n, rate, seconds)
        queued = await asyncio.to_thread(latencies, receiver, sent, 30)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 15)
        await nc.close()
        receiver.stop()
        store.close()

    print(f"{n} presses per mode at {rate:g}/s, PostgreSQL, one receiver on loopback")
    lp50, lp99 = summary("local", local, n)
    qp50, qp99 = summary("queue", queued, n)
    print(f"ratio queue/local: p50 {qp50 / lp50:.2f}x  p99 {qp99 / lp99:.2f}x")
    print(f"duplicates at the receiver: {receiver.duplicates}, bad signatures: {receiver.bad_signatures}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()

    from tests.support.nats_server import start_nats
    from tests.support.postgres import fresh_database

    with fresh_database("sharpeyes_b") as pg, tempfile.TemporaryDirectory() as tmp:
        server = start_nats(Path(tmp) / "js")
        try:
            asyncio.run(run(pg, server.url, args.rate, args.seconds, Path(tmp)))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
