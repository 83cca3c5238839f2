"""`sharpeyes user …` as an admin runs it: no default password, the password from an environment variable
or stdin, scope checked against the config, and `list` never shows a hash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def config(tmp_path: Path) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "storage": {"url": f"sqlite:///{tmp_path / 'u.db'}"},
                "grids": [{"id": "G-001", "community": "C-1", "street": "S-1"}],
                "webhooks": [{"name": "p", "url": "http://127.0.0.1:9/h", "secret_env": "UNSET_SECRET_X"}],
            }
        )
    )
    return path


def user(cfg: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sharpeyes.cli", "user", "-c", str(cfg), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_user_lifecycle_from_the_command_line(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    no_password = user(cfg, "add", "wang", "--role", "operator")
    assert no_password.returncode != 0 and "no password" in no_password.stderr
    ok = user(
        cfg,
        "add",
        "wang",
        "--role",
        "operator",
        "--street",
        "S-1",
        "--password-env",
        "PW",
        PW="pw-long-enough",
    )
    assert ok.returncode == 0, ok.stderr
    bad = user(
        cfg, "add", "li", "--role", "operator", "--grid", "G-404", "--password-env", "PW", PW="pw-long-enough"
    )
    assert bad.returncode == 1 and "unknown grid" in bad.stderr
    weak = user(cfg, "passwd", "wang", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 10" in weak.stderr
    assert user(cfg, "passwd", "wang", "--password-stdin", stdin="a new long password\n").returncode == 0
    assert user(cfg, "disable", "wang").returncode == 0
    listed = user(cfg, "list")
    assert listed.returncode == 0
    assert "wang" in listed.stdout and "S-1" in listed.stdout and "disabled" in listed.stdout
    assert "argon2" not in listed.stdout and "pw-long-enough" not in listed.stdout


def test_config_may_follow_the_sub_command(tmp_path: Path) -> None:
    """`user add NAME … -c FILE` (as the README once showed it) works like `user -c FILE add …`: both write
    to the configured database, and neither falls back to configs/demo.yaml."""
    cfg = config(tmp_path)
    add = ["user", "add", "zhao", "--role", "admin", "--password-env", "PW", "-c", str(cfg)]
    after = subprocess.run(
        [sys.executable, "-m", "sharpeyes.cli", *add],
        capture_output=True,
        text=True,
        env={**os.environ, "PW": "pw-long-enough"},
        cwd=tmp_path,  # no configs/demo.yaml here: a fallback to it would fail
        timeout=60,
    )
    assert after.returncode == 0, after.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "sharpeyes.cli", "user", "list", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert "zhao" in listed.stdout and "admin" in listed.stdout
    assert (tmp_path / "u.db").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["user", "-c", "a.yaml", "add", "x", "--role", "admin"], "a.yaml"),
        (["user", "add", "x", "--role", "admin", "-c", "b.yaml"], "b.yaml"),
        (["user", "add", "x", "--role", "admin"], "configs/demo.yaml"),
        (["user", "-c", "a.yaml", "list"], "a.yaml"),
        (["user", "passwd", "x", "--config", "c.yaml"], "c.yaml"),
        (["user", "enable", "x", "-c", "d.yaml"], "d.yaml"),
    ],
)
def test_config_option_in_either_position(argv: list[str], expected: str) -> None:
    from sharpeyes.cli import build_parser

    assert build_parser().parse_args(argv).config == expected
