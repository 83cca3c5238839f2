"""SOS latency: N simulated buttons press at a steady rate against a real mosquitto; we measure
press (publish) → signed webhook received at a local receiver, and lost presses, next to the floor
measured in the same run: publish → a bare paho subscriber on the same broker.

    python benchmarks/sos_latency.py --buttons 200 --rate 200 --seconds 10 [--hops] [--per-second]
    python benchmarks/sos_latency.py --buttons 1000 --rate 1000 --seconds 1 --hops   # a burst

--hops attributes every press to its hops (published → received by the service → committed → handed to
the sender → POST sent → verified by the receiver), from marks the service keeps when SHARPEYES_HOP_TRACE
is set (ingest/hop_trace.py), so a stall names the hop it happened in.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sharpeyes.receiver import DispatchReceiver  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402
from tests.support.service import SECRET, Service, write_config  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def summary(name: str, ms: list[float]) -> str:
    p50, p99 = pct(ms, 0.5), pct(ms, 0.99)
    return f"{name:<28} n={len(ms):5d}  p50={p50:7.2f} ms  p99={p99:7.2f} ms  max={max(ms):7.2f} ms"


def cpu_seconds(pid: int, children: bool = True) -> tuple[float, float]:
    """User and system CPU of a process and (unless `children` is false) its children (the sender
    process) so far: figures that machine noise barely moves."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, system = int(fields[11]) / tick, int(fields[12]) / tick
    for listing in Path(f"/proc/{pid}/task").glob("*/children") if children else []:
        try:
            kids = listing.read_text().split()  # children of each thread: the sender starts from one
        except OSError:
            continue
        for child in kids:
            u, s = cpu_seconds(int(child))
            user, system = user + u, system + s
    return user, system


def histogram_line(text: str, prefix: str) -> str:
    """Cumulative bucket counts as '≤0.005s:1234 …' of the bucket lines starting with `prefix`."""
    parts = []
    for line in text.splitlines():
        if line.startswith(prefix):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            parts.append(f"≤{le}s:{float(line.rsplit(' ', 1)[1]):.0f}")
    return " ".join(parts)


Arrival = tuple[str, int, float]  # button id, press seq, wall time the receiver verified it

# Each hop's name and the marks it lies between; "published" is the benchmark's, "verified" the receiver's.
HOPS = (
    ("broker → service", "published", "received"),
    ("stored (group commit)", "received", "committed"),
    ("handed to sender", "committed", "queued"),
    ("sender's turn", "queued", "sent"),
    ("HTTP to receiver", "sent", "verified"),
)


def hop_report(trace: Path, sent: dict[tuple[str, int], float], arrivals: list[Arrival]) -> list[str]:
    """Per-hop p50/p99/max, and which hop the slowest 1 % of presses spent most of their time in."""
    marks: dict[tuple[str, int], dict[str, float]] = {}
    for line in trace.read_text().splitlines():
        button, seq, hop, at = json.loads(line)
        marks.setdefault((button, seq), {}).setdefault(hop, at)  # first time: a resend is not the press
    for key, t0 in sent.items():
        marks.setdefault(key, {})["published"] = t0
    for button, seq, at in arrivals:
        marks.setdefault((button, seq), {})["verified"] = at
    complete = {k: m for k, m in marks.items() if all(h in m for _, a, b in HOPS for h in (a, b))}
    lines = [f"hops ({len(complete)} presses with every mark):"]
    for name, a, b in HOPS:
        ms = [(m[b] - m[a]) * 1000 for m in complete.values()]
        if ms:
            lines.append(summary(f"  {name}", ms))
    totals = sorted(complete.values(), key=lambda m: m["verified"] - m["published"])
    slow = totals[-max(1, len(totals) // 100) :] if totals else []
    blame: dict[str, int] = {}
    for m in slow:
        worst = max(HOPS, key=lambda h: m[h[2]] - m[h[1]])[0]
        blame[worst] = blame.get(worst, 0) + 1
    if slow:
        lines.append(
            f"  slowest {len(slow)} presses spent most of their time in: "
            + ", ".join(f"{name} ×{n}" for name, n in sorted(blame.items(), key=lambda kv: -kv[1]))
        )
    return lines


def _receiver_child(conn: Connection) -> None:
    """The receiver in its own process, so its GIL is not shared with the publishers it measures."""
    receiver = DispatchReceiver(SECRET).start()
    conn.send(receiver.url)
    while True:
        cmd = conn.recv()
        if cmd == "stop":
            receiver.stop()
            conn.send(None)
            return
        with receiver._lock:
            arrivals: list[Arrival] = []
            for r in receiver.received.values():
                d = r.body["data"]
                if d.get("source_kind") == "button" and d["change"]["action"] in ("created", "retrigger"):
                    arrivals.append((d["source_id"], d["evidence"]["last_seq"], r.received_at))
            conn.send(len(arrivals) if cmd == "count" else (arrivals, receiver.duplicates))


class ReceiverProcess:
    def __init__(self) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.get_context("spawn").Process(
            target=_receiver_child, args=(child,), daemon=True
        )
        self._proc.start()
        self.url: str = self._conn.recv()

    def _ask(self, cmd: str):  # type: ignore[no-untyped-def]
        self._conn.send(cmd)
        return self._conn.recv()

    def wait_for_count(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._ask("count") < n and time.monotonic() < deadline:
            time.sleep(0.1)

    def arrivals(self) -> tuple[list[Arrival], int]:
        return self._ask("dump")

    def stop(self) -> None:
        self._ask("stop")
        self._proc.join(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--buttons", type=int, default=200)
    ap.add_argument("--rate", type=float, default=200.0, help="presses per second, all buttons together")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--publishers", type=int, default=4, help="MQTT connections the presses are spread over")
    ap.add_argument("--storage", default=None, help="storage URL (default: a fresh SQLite file)")
    ap.add_argument(
        "--sqlite-synchronous",
        choices=["full", "normal"],
        default="full",
        help="storage.sqlite_synchronous: full (default, on disk before the PUBACK) or normal",
    )
    ap.add_argument(
        "--sender",
        choices=["in_process", "own_process"],
        default="own_process",
        help="delivery.sender: send webhooks and MQTT notices from a child process (the default) or in the "
        "service's process",
    )
    ap.add_argument("--per-second", action="store_true", help="also print p50/p99 for each second of load")
    ap.add_argument("--hops", action="store_true", help="attribute each press to its hops (see above)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sos-bench-"))
    broker = Mosquitto(tmp / "mosquitto").start()
    receiver = ReceiverProcess()
    cfg_path = tmp / "bench.yaml"
    buttons = [f"P-{i:04d}" for i in range(args.buttons)]
    extra = {
        "buttons": [{"id": b, "grid": "G-001"} for b in buttons],
        "log_level": "WARNING",
    }
    cfg = write_config(
        cfg_path, mqtt_port=broker.port, webhook_url=receiver.url, db=tmp / "bench.db", extra=extra
    )
    cfg["storage"] = {
        "url": args.storage or cfg["storage"]["url"],
        "sqlite_synchronous": args.sqlite_synchronous,
    }
    cfg["delivery"] = {"sender": args.sender}
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    trace = tmp / "hops.jsonl"
    if args.hops:
        os.environ["SHARPEYES_HOP_TRACE"] = str(trace)
    service = Service(cfg_path, cfg, tmp / "service.log").start()
    os.environ.pop("SHARPEYES_HOP_TRACE", None)

    sent: dict[tuple[str, int], float] = {}
    floor_ms: list[float] = []
    floor_lock = threading.Lock()

    received_ms: list[float] = []  # press → the pole's `received` receipt (what a button shows)

    def on_floor(_c, _u, msg: mqtt.MQTTMessage) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        body = json.loads(msg.payload)
        button = msg.topic.split("/")[-2]
        with floor_lock:
            if msg.topic.endswith("/event"):
                t0 = sent.get((button, body["seq"]))
                if t0 is not None:
                    floor_ms.append((now - t0) * 1000)
            elif body.get("type") == "received" and (t0 := sent.get((button, body["seq"]))) is not None:
                received_ms.append((now - t0) * 1000)

    floor = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-floor")
    floor.on_message = on_floor
    floor.connect("127.0.0.1", broker.port)
    floor.subscribe([("se/buttons/+/event", 1), ("se/buttons/+/ack", 1)])
    floor.loop_start()

    pubs = []
    for i in range(args.publishers):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{i}")
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        pubs.append(c)
    time.sleep(0.5)

    assert service.proc is not None
    cpu_before = cpu_seconds(service.proc.pid)
    own_before = sum(cpu_seconds(service.proc.pid, children=False))
    total = int(args.rate * args.seconds)
    interval = 1.0 / args.rate
    start = time.perf_counter()
    for n in range(total):
        target = start + n * interval
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        button = buttons[n % len(buttons)]
        seq = n + 1
        ts = time.time()
        with floor_lock:
            sent[(button, seq)] = ts
        pubs[n % len(pubs)].publish(
            f"se/buttons/{button}/event", json.dumps({"kind": "press", "ts": ts, "seq": seq}), qos=1
        )
    publish_s = time.perf_counter() - start

    receiver.wait_for_count(total, 60)
    receipts_by = time.monotonic() + 5
    while len(received_ms) < total and time.monotonic() < receipts_by:
        time.sleep(0.05)
    cpu_after = cpu_seconds(service.proc.pid)
    own_s = sum(cpu_seconds(service.proc.pid, children=False)) - own_before
    user_s, sys_s = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    lat_ms: list[float] = []
    by_second: dict[int, list[float]] = {}
    worst: list[tuple[float, float]] = []
    t_start = min(sent.values()) if sent else 0.0
    arrivals, duplicates = receiver.arrivals()
    for button, seq, received_at in arrivals:
        t0 = sent.get((button, seq))
        if t0 is not None:
            lat_ms.append((received_at - t0) * 1000)
            by_second.setdefault(int(t0 - t_start), []).append(lat_ms[-1])
            worst.append((lat_ms[-1], t0 - t_start))
    lost = total - len({(b, q) for b, q, _ in arrivals})

    print(
        f"sharpeyes SOS latency: {args.buttons} buttons, {args.rate:.0f} presses/s for {args.seconds:.0f} s "
        f"({total} presses, published in {publish_s:.2f} s), storage {cfg['storage']['url'].split(':')[0]}"
        + (f" synchronous={args.sqlite_synchronous}" if cfg["storage"]["url"].startswith("sqlite") else "")
    )
    print(summary("floor: publish → paho sub", floor_ms))
    print(summary("press → webhook received", lat_ms))
    print(summary("press → pole hears received", received_ms))
    if floor_ms and lat_ms:
        print(
            f"ratio (press→webhook / floor): p50 {pct(lat_ms, 0.5) / pct(floor_ms, 0.5):.1f}x, "
            f"p99 {pct(lat_ms, 0.99) / pct(floor_ms, 0.99):.1f}x"
        )
    print(
        f"lost: {lost}   duplicates at receiver (same webhook-id): {duplicates}   "
        f"mean {statistics.fmean(lat_ms):.2f} ms"
        if lat_ms
        else f"lost: {lost}"
    )

    print(
        f"service CPU ({args.sender}): {(user_s + sys_s) * 1000 / total:.2f} ms per press "
        f"(user {user_s:.1f} s + system {sys_s:.1f} s for {total} presses; "
        f"the press process alone {own_s * 1000 / total:.2f} ms)"
    )
    if args.per_second:
        for second, values in sorted(by_second.items()):
            print(summary(f"  second {second:3d}", values))
        print("slowest presses (latency ms @ seconds into the run):")
        print("  " + ", ".join(f"{ms:.0f} @ {at:.2f}" for ms, at in sorted(worst, reverse=True)[:30]))

    # The service's own view (its histograms), to tell where a slow press spent its time.
    metrics = service.get("/metrics").text
    for name in ("press_to_incident", "incident_to_webhook"):
        print(f"service histogram {name}: " + histogram_line(metrics, f"sharpeyes_{name}_seconds_bucket"))
    for gen in ("0", "1", "2"):
        gc_name = f'sharpeyes_gc_pause_seconds_bucket{{generation="{gen}",'
        print(f"service GC pauses, generation {gen}: " + histogram_line(metrics, gc_name))

    for c in pubs:
        c.loop_stop()
        c.disconnect()
    floor.loop_stop()
    floor.disconnect()
    service.stop()
    if args.hops:  # the service writes its marks when it exits
        print("\n".join(hop_report(trace, sent, arrivals)))
    receiver.stop()
    broker.stop()
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
