"""`sharpeyes run --role ...`: which part of the distributed runtime this process runs."""

from __future__ import annotations

import logging
import sys

from sharpeyes.settings import Settings

log = logging.getLogger(__name__)


def api_settings(settings: Settings) -> Settings:
    """`--role api`: the local runtime (HTTP API and page, deadline ticks; buttons and deliveries as
    `distributed.buttons_via` and `delivery.via` say) on the shared PostgreSQL, without cameras, which the Ray
    shards own."""
    return settings.model_copy(update={"cameras": [], "runtime": "local"})


def run_role(role: str, settings: Settings) -> int:
    """Exit status for the CLI; `all` with `runtime: ray` is refused (each part runs as its own role)."""
    if role in ("all", "api"):
        print(
            "runtime: ray runs as separate processes: --role shard (Ray reconciler), --role engine, "
            "--role delivery, --role api",
            file=sys.stderr,
        )
        return 2
    if role == "engine":
        from sharpeyes.distributed.engine_role import main

        return main(settings)
    if role == "shard":
        from sharpeyes.distributed.reconciler import main as shard_main

        return shard_main(settings)
    if role == "delivery":
        from sharpeyes.distributed.delivery_role import main as delivery_main

        return delivery_main(settings)
    if role == "ingest":
        from sharpeyes.distributed.ingest_role import main as ingest_main

        return ingest_main(settings)
    print(f"unknown role {role!r}", file=sys.stderr)
    return 2
