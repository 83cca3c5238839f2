"""`sharpeyes check-config FILE` as a user runs it: a subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
storage: {url: "sqlite:///var/lib/sharpeyes/sharpeyes.db"}
mqtt: {host: 127.0.0.1, port: 1883, embedded: false}
http: {host: 127.0.0.1, port: 8080}
grids: [{id: G-001, name: 网格一, community: C-1, street: S-1}]
buttons: [{id: B-001, grid: G-001}]
webhooks: [{name: police, url: "https://dispatch.example/hook", secret_env: DISPATCH_WEBHOOK_SECRET}]
auth: {api_tokens: [{name: dispatch, token_env: DISPATCH_API_TOKEN, role: operator}]}
"""
BAD = """\
grids:
  - {id: G-001, community: C-1, street: S-1}
buttons:
  - {id: B-001, grid: G-001}
  - {id: B-002, grid: G-009}
mqtt:
  port: 1883
  colour: red
"""
SECRETS = {"DISPATCH_WEBHOOK_SECRET": "whsec_c2VjcmV0", "DISPATCH_API_TOKEN": "tok"}


def check(path: Path | str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-m", "sharpeyes.cli", "check-config", str(path), *extra],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=REPO,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("text", "env", "rc", "stdout", "stderr"),
    [
        (GOOD, SECRETS, 0, ["site.yaml: ok (1 grids, 1 buttons, 1 webhooks, 0 cameras)"], []),
        (
            GOOD,
            {},
            1,
            [],
            [
                "site.yaml:6 webhooks[0].secret_env: environment variable DISPATCH_WEBHOOK_SECRET is not set",
                "site.yaml:7 auth.api_tokens[0].token_env: "
                "environment variable DISPATCH_API_TOKEN is not set",
            ],
        ),
        (BAD, {}, 1, [], ["site.yaml:8 mqtt.colour: unknown key"]),
        (
            BAD.replace("  colour: red\n", ""),
            {},
            1,
            [],
            ["site.yaml:5 buttons[1].grid: unknown grid 'G-009'"],
        ),
        (
            "mqtt: {port: [}\n",
            {},
            1,
            [],
            [
                "site.yaml:1 (root): invalid YAML: expected the node content, but found '}' "
                "(while parsing a flow node)"
            ],
        ),
    ],
)
def test_check_config(
    tmp_path: Path, text: str, env: dict[str, str], rc: int, stdout: list[str], stderr: list[str]
) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(text, encoding="utf-8")
    out = check(path, env)
    assert out.returncode == rc, out.stderr
    assert out.stdout.splitlines() == stdout
    assert out.stderr.splitlines() == stderr


def test_missing_file(tmp_path: Path) -> None:
    out = check(tmp_path / "nope.yaml", {})
    assert out.returncode == 1
    assert out.stderr.startswith("nope.yaml (root): cannot read config")


@pytest.mark.parametrize(
    ("env", "rc"),
    [({"DEMO_WEBHOOK_SECRET": "whsec_c2VjcmV0", "SHARPEYES_ADMIN_TOKEN": "t"}, 0), ({}, 1)],
)
def test_shipped_demo_config(env: dict[str, str], rc: int) -> None:
    out = check(REPO / "configs" / "demo.yaml", env)
    assert out.returncode == rc, out.stderr
    if rc:
        assert [line.split(" ", 1)[1] for line in out.stderr.splitlines()] == [
            "webhooks[0].secret_env: environment variable DEMO_WEBHOOK_SECRET is not set",
            "webhooks[1].secret_env: environment variable DEMO_WEBHOOK_SECRET is not set",  # the gateway
            "auth.api_tokens[0].token_env: environment variable SHARPEYES_ADMIN_TOKEN is not set",
        ]
    else:
        assert out.stdout.startswith("demo.yaml: ok (")


def test_usage_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sharpeyes.cli", "check-config"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 2 and "usage:" in out.stderr
