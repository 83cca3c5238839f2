"""JetStream observation path: publish rate (acked) and one engine's consume rate into PostgreSQL.

Why: docs/SCALING.md sizes the broker and the number of engine processes for 3,116 cameras. A private
nats-server (JetStream, file store) on a free port and a fresh PostgreSQL database; N observations of N
different cameras (each opens an incident: the engine's most expensive case), published with `--inflight`
outstanding acks, consumed by one in-process engine (`sharpeyes run --role engine`'s code).

    .venv/bin/python benchmarks/observation_bus.py [--n 2000] [--inflight 64]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


async def bench(n: int, inflight: int, pg: str, nats_url: str) -> None:
    import nats

    from alarms.config import GridConfig, StorageConfig
    from jetstream.config import DistributedConfig
    from jetstream.observations import ObservationPublisher, ensure_stream
    from sharpeyes.distributed.engine_role import run_engine
    from sharpeyes.settings import Settings
    from tests.distributed.test_observation_bus import fire

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, "SHARPEYES_OBS")
    pub = ObservationPublisher(js, "SHARPEYES_OBS")
    msgs = [fire(f"CAM-{i:05d}") for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, inflight):
        await asyncio.gather(*(pub.publish(m) for m in msgs[i : i + inflight]))
    pub_s = time.perf_counter() - t0
    print(f"publish: {n} observations in {pub_s:.2f} s = {n / pub_s:,.0f}/s acked ({inflight} in flight)")
    dup0 = time.perf_counter()
    dups = sum([not ok for ok in await asyncio.gather(*(pub.publish(m) for m in msgs[:inflight]))])
    print(f"repeats dropped by Nats-Msg-Id: {dups}/{inflight} ({time.perf_counter() - dup0:.3f} s)")

    settings = Settings(
        storage=StorageConfig(url=pg),
        grids=[GridConfig(id="G-001", name="one", community="C-1", street="S-1")],
        distributed=DistributedConfig(nats_url=nats_url),
    )
    stop = asyncio.Event()
    t1 = time.perf_counter()
    task = asyncio.create_task(run_engine(settings, stop, tick_s=60, migrate=False))
    while True:
        await asyncio.sleep(0.1)
        try:
            info = await js.consumer_info("SHARPEYES_OBS", "engine")
        except Exception:
            continue
        if info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.consumer_seq >= n:
            break
    con_s = time.perf_counter() - t1
    stop.set()
    consumer = await task
    print(
        f"consume: {consumer.applied} applied by one engine in {con_s:.2f} s = {n / con_s:,.0f}/s "
        "(each a new incident + timeline + outbox rows in PostgreSQL; includes engine start)"
    )
    await nc.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--inflight", type=int, default=64)
    args = ap.parse_args()

    from tests.support.nats_server import start_nats
    from tests.support.postgres import fresh_database

    with fresh_database("sharpeyes_b") as pg, tempfile.TemporaryDirectory() as tmp:
        server = start_nats(Path(tmp) / "js")
        try:
            asyncio.run(bench(args.n, args.inflight, pg, server.url))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
