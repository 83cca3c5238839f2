"""Press → incident committed, through `--role ingest` (MQTT 5 shared subscription → JetStream → `--role
engine` → PostgreSQL) next to the local path measured in the same run (`--role api` listening to the buttons
itself, same PostgreSQL, same broker).

Each press comes from its own button, so each opens a new incident; the committing process stamps
`committed_at` on the change it publishes on the core NATS live subject, which this script subscribes to.
Latency = committed_at − the wall time just before the press was published (same machine, same clock).

    python benchmarks/ingest_role.py --presses 300 --rate 50 [--ingest 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.nats_server import start_nats  # noqa: E402
from tests.support.postgres import fresh_database  # noqa: E402
from tests.support.service import Service, write_config  # noqa: E402

PREFIX = "se"
LIVE = "sharpeyes.live.incidents"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


def spawn(config: Path, role: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "run", "--role", role, "-c", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def wait_log(log: Path, text: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = log.read_text(errors="replace") if log.exists() else ""
        if text in found:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{text!r} not in {log}: {found[-1500:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def measure(nats_url: str, mqtt_port: int, presses: int, rate: float) -> list[float]:
    """Publishes `presses` presses at `rate`, one per button; returns press → committed ms of each."""
    committed: dict[str, float] = {}
    nc = await nats.connect(nats_url)

    async def on_live(msg: Any) -> None:
        for event in json.loads(msg.data)["events"]:
            inc = event["incident"]
            if event["action"] == "created" and inc.get("category") == "sos":
                committed.setdefault(inc["source_id"], event["committed_at"])

    await nc.subscribe(LIVE, cb=on_live)
    await nc.flush()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}")
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    sent: dict[str, float] = {}
    try:
        start = time.monotonic()
        for i in range(presses):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            button = f"B-{i:04d}"
            sent[button] = time.time()
            body = {"kind": "press", "ts": sent[button], "seq": 1}
            client.publish(f"{PREFIX}/buttons/{button}/event", json.dumps(body), qos=1)
        deadline = time.monotonic() + 60
        while len(committed) < presses and time.monotonic() < deadline:  # noqa: ASYNC110 (bounded poll)
            await asyncio.sleep(0.1)
    finally:
        client.disconnect()
        client.loop_stop()
        await nc.close()
    lost = presses - len(committed)
    if lost:
        print(f"  {lost} presses without an incident after 60 s", file=sys.stderr)
    ms = {b: (committed[b] - sent[b]) * 1000 for b in committed}
    slow = sorted(ms, key=ms.__getitem__, reverse=True)[:5]
    print("  slowest:", ", ".join(f"press #{int(b[2:])} {ms[b]:.0f} ms" for b in slow), file=sys.stderr)
    return list(ms.values())


def run_mode(mode: str, args: argparse.Namespace, nats_url: str, mqtt_port: int, work: Path) -> list[float]:
    with fresh_database("sharpeyes_bench") as url:
        return _run_mode(mode, args, nats_url, mqtt_port, work, url)


def _run_mode(
    mode: str, args: argparse.Namespace, nats_url: str, mqtt_port: int, work: Path, url: str
) -> list[float]:
    buttons = [{"id": f"B-{i:04d}", "grid": "G-001"} for i in range(args.presses)]
    via = "ingest" if mode == "ingest" else "api"
    config = work / f"{mode}.yaml"
    cfg = write_config(
        config,
        mqtt_port=mqtt_port,
        webhook_url="http://127.0.0.1:9/unused",
        db=work / "unused.db",
        prefix=PREFIX,
        extra={
            "storage": {"url": url},
            "webhooks": [],
            "buttons": buttons,
            "distributed": {"nats_url": nats_url, "buttons_via": via, "delivery": {"via": "api"}},
        },
    )
    procs: list[subprocess.Popen[bytes]] = []
    api: Service | None = None
    try:
        if mode == "ingest":
            env = Service(config, cfg, work / "unused.log").env()  # the config's secrets
            procs.append(spawn(config, "engine", work / "engine.log", env))
            wait_log(work / "engine.log", "engine consuming buttons")
            for k in range(args.ingest):
                log = work / f"ingest-{k}.log"
                procs.append(
                    spawn(config, "ingest", log, {**env, "SHARPEYES_INGEST_ID": f"bench-ingest-{k}"})
                )
                wait_log(log, "subscribed to")
        else:
            api = Service(config, cfg, work / "api.log", args=("--role", "api")).start(timeout=60)
        return asyncio.run(measure(nats_url, mqtt_port, args.presses, args.rate))
    finally:
        for p in procs:
            stop(p)
        if api is not None:
            api.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="presses per second")
    parser.add_argument("--ingest", type=int, default=2, help="ingest processes in the shared group")
    parser.add_argument("--keep", type=Path, help="keep configs and logs in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        broker = Mosquitto(work / "mqtt").start()
        server = start_nats(work / "js")
        try:
            results = {m: run_mode(m, args, server.url, broker.port, work) for m in ("local", "ingest")}
        finally:
            server.stop()
            broker.stop()
    print(f"{args.presses} presses at {args.rate:.0f}/s, one per button, PostgreSQL on 127.0.0.1")
    for mode, ms in results.items():
        label = "local (--role api)" if mode == "local" else f"ingest ×{args.ingest} → JetStream → engine"
        print(
            f"  {label:<36} n={len(ms):4d}  p50={pct(ms, 0.5):7.2f} ms  p90={pct(ms, 0.9):7.2f} ms  "
            f"p99={pct(ms, 0.99):7.2f} ms  max={max(ms, default=float('nan')):7.2f} ms"
        )
    loc, ing = results["local"], results["ingest"]
    p50, p99 = pct(ing, 0.5) / pct(loc, 0.5), pct(ing, 0.99) / pct(loc, 0.99)
    print(f"  ratio ingest/local: p50 {p50:.2f}×  p99 {p99:.2f}×")
    return 0 if len(loc) == len(ing) == args.presses else 1


if __name__ == "__main__":
    sys.exit(main())
