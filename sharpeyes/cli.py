"""`sharpeyes run | check-config | press | receiver | user | eval | train`: the command line."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uvicorn

DEFAULT_CONFIG = "configs/demo.yaml"


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The embedded broker's state machine logs every client's every transition at INFO: noise for operators.
    for noisy in ("transitions", "amqtt"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level)))


def _more_than(count: int, received: Mapping[str, object]) -> bool:
    return len(received) > count


def cmd_check_config(args: argparse.Namespace) -> int:
    from sharpeyes.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"{Path(args.file).name}: ok ({len(settings.grids)} grids, {len(settings.buttons)} buttons, "
        f"{len(settings.webhooks)} webhooks, {len(settings.cameras)} cameras)"
    )
    return 0


def _quiet_exit_server() -> type[uvicorn.Server]:
    """uvicorn re-raises SIGTERM after a graceful shutdown (exit -15); a service should exit 0."""
    import contextlib
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from dashboard.app import create_app
    from sharpeyes.runtime import LocalRuntime
    from sharpeyes.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    _setup_logging(args.log_level or settings.log_level)
    extra: dict[str, Any] = {}
    if args.role != "all" or settings.runtime == "ray":
        from sharpeyes.distributed.roles import api_settings, run_role

        if args.role != "api":
            return run_role(args.role, settings)
        extra["cameras"] = settings.cameras  # scope, listing and evidence pictures of the shards' cameras
        settings = api_settings(settings)  # the local runtime without cameras: they run on the shards
        from sharpeyes.distributed.api_role import ApiRuntime

        runtime_cls: type[LocalRuntime] = ApiRuntime  # plus live push from and to the other processes
    else:
        runtime_cls = LocalRuntime
    # Several threads (MQTT, engine, event loop) hand each press on; a 1 ms GIL switch interval instead
    # of 5 ms keeps each hand-over short (benchmarks/README.md, SOS latency).
    sys.setswitchinterval(0.001)
    runtime = runtime_cls(settings, freeze_gc=True, **extra)
    app = create_app(runtime)
    config = uvicorn.Config(
        app,
        host=settings.http.host,
        port=settings.http.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _quiet_exit_server()(config)
    logging.getLogger(__name__).info("HTTP API on http://%s:%s", settings.http.host, settings.http.port)
    server.run()  # handles SIGINT and SIGTERM, then runs the lifespan shutdown
    return 0 if server.started else 1


def cmd_press(args: argparse.Namespace) -> int:
    """Publish exactly what a real button publishes: QoS 1 JSON on {prefix}/buttons/{id}/event."""
    import os

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from ingest.mqtt_client import configure_client
    from sharpeyes.settings import ConfigError, SecretsNotNeeded, load_settings

    try:  # a drill from another shell: the service's webhook and token secrets are not needed here
        settings = load_settings(args.config, SecretsNotNeeded(os.environ))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    m = settings.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"press-{args.button_id}-{os.getpid()}")
    configure_client(client, m, os.environ.get(m.password_env) if m.password_env else None)
    now = time.time()
    payload = {
        "kind": args.kind,
        "ts": round(now, 3),
        "seq": args.seq if args.seq is not None else int(now * 1000),
    }
    topic = f"{m.prefix}/buttons/{args.button_id}/event"
    try:
        client.connect(args.host or m.host, args.port or m.port, keepalive=10)
    except OSError as exc:
        print(f"cannot reach MQTT broker {args.host or m.host}:{args.port or m.port}: {exc}", file=sys.stderr)
        return 2
    client.loop_start()
    info = client.publish(topic, json.dumps(payload), qos=1)
    info.wait_for_publish(timeout=10)
    client.disconnect()
    client.loop_stop()
    if not info.is_published():
        print("the broker did not acknowledge the message", file=sys.stderr)
        return 2
    print(f"published {topic} {json.dumps(payload)}")
    return 0


def cmd_receiver(args: argparse.Namespace) -> int:
    """A signature-verifying webhook receiver that prints what police dispatch would get."""
    import os

    from sharpeyes.receiver import DispatchReceiver

    secret = os.environ.get(args.secret_env)
    if not secret:
        print(f"environment variable {args.secret_env} is not set", file=sys.stderr)
        return 1
    _setup_logging("INFO")
    receiver = DispatchReceiver(secret, args.host, args.port).start()
    print(f"receiving signed webhooks on {receiver.url}; Ctrl-C to stop", file=sys.stderr)
    seen = 0
    try:
        while True:
            receiver.wait_for(functools.partial(_more_than, seen), 3600)
            for item in list(receiver.received.values())[seen:]:
                data = item.body.get("data", {})
                place = data.get("place") or {}  # where to send people, as dispatch reads it
                where = place.get("address") or place.get("grid_name") or data.get("grid_id")
                print(
                    f"{item.body.get('type')} #{data.get('id')} {data.get('category')} {data.get('state')} "
                    f"at {where} grid={data.get('grid_id')} v{data.get('version')}",
                    flush=True,
                )
            seen = len(receiver.received)
    except KeyboardInterrupt:
        receiver.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sharpeyes", description="Sharp Eyes video and IoT incident engine")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the service (MQTT, incident engine, delivery, HTTP API)")
    run.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument(
        "--role",
        default="all",
        choices=["all", "shard", "engine", "ingest", "delivery", "api"],
        help="all: every part in this process (default); the others run one part of the distributed runtime",
    )
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a config file; one line per problem")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)

    press = sub.add_parser("press", help="publish a button event, as a real button would")
    press.add_argument("button_id")
    press.add_argument(
        "--kind", default="press", choices=["press", "cancel", "heartbeat", "tamper", "low_battery"]
    )
    press.add_argument("--seq", type=int)
    press.add_argument("-c", "--config", default=DEFAULT_CONFIG)
    press.add_argument("--host")
    press.add_argument("--port", type=int)
    press.set_defaults(func=cmd_press)

    recv = sub.add_parser("receiver", help="run a signature-verifying webhook receiver (demos, drills)")
    recv.add_argument("--host", default="127.0.0.1")
    recv.add_argument("--port", type=int, default=8099)
    recv.add_argument("--secret-env", default="DEMO_WEBHOOK_SECRET")
    recv.set_defaults(func=cmd_receiver)

    from sharpeyes import users_cli
    from sharpeyes.evaluation import cli as eval_cli
    from sharpeyes.training import cli as train_cli

    users_cli.add_parser(sub)
    eval_cli.add_parsers(sub)
    train_cli.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
