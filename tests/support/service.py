"""Run `sharpeyes run` as a real subprocess, so tests can SIGTERM it or kill -9 it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.support.ports import free_port

TOKEN = "test-admin-token"
SECRET = "whsec_c2hhcnBleWVzLXRlc3Qtc2VjcmV0"


def write_config(
    path: Path,
    *,
    mqtt_port: int,
    webhook_url: str,
    db: Path,
    http_port: int | None = None,
    prefix: str = "se",
    extra: dict | None = None,
) -> dict:
    cfg = {
        "storage": {"url": f"sqlite:///{db}"},
        "mqtt": {
            "host": "127.0.0.1",
            "port": mqtt_port,
            "embedded": False,
            "prefix": prefix,
            "client_id": f"sharpeyes-{path.stem}",
        },
        "http": {"host": "127.0.0.1", "port": http_port or free_port()},
        "grids": [
            {"id": "G-001", "name": "网格一", "community": "C-1", "street": "S-1"},
            {"id": "G-002", "name": "网格二", "community": "C-2", "street": "S-2"},
        ],
        "buttons": [{"id": f"B-{i:03d}", "grid": "G-001" if i % 2 else "G-002"} for i in range(1, 21)],
        "webhooks": [
            {
                "name": "police",
                "url": webhook_url,
                "secret_env": "TEST_WEBHOOK_SECRET",
                "retry": {"delays_s": [0.2, 0.5, 1.0]},
            }
        ],
        "auth": {"api_tokens": [{"name": "admin", "token_env": "TEST_ADMIN_TOKEN", "role": "admin"}]},
    }
    for key, value in (extra or {}).items():
        cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return cfg


class Service:
    def __init__(self, config: Path, cfg: dict, log: Path, args: tuple[str, ...] = ()) -> None:
        self.args = args  # e.g. ("--role", "api")
        self.config = config
        self.cfg = cfg
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.cfg['http']['port']}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "TEST_WEBHOOK_SECRET": SECRET, "TEST_ADMIN_TOKEN": TOKEN}

    def start(self, timeout: float = 30.0) -> Service:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sharpeyes.cli", "run", "-c", str(self.config), *self.args],
            env=self.env(),
            stdout=out,
            stderr=out,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"service exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                r = httpx.get(f"{self.base}/readyz", headers=self.headers(), timeout=1)
                if r.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"service not ready:\n{self.log.read_text()[-3000:]}")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def get(self, path: str, **params: object) -> httpx.Response:
        return httpx.get(f"{self.base}{path}", headers=self.headers(), params=params, timeout=10)

    def post(self, path: str, body: dict) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", headers=self.headers(), json=body, timeout=10)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self.proc = None
        return code

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
