"""`runtime:` and `sharpeyes run --role`: local stays the default; ray runs as separate roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpeyes.cli import main
from sharpeyes.distributed.roles import api_settings
from sharpeyes.settings import ConfigError, parse_settings

BASE = "grids: [{id: G-001, name: one, community: C-1, street: S-1}]\n"
CAM = "cameras: [{id: CAM-1, url: 'file:///x.mp4', grid: G-001, rules: [{kind: fire}]}]\n"


def test_local_is_the_default_runtime() -> None:
    s = parse_settings(BASE, "x.yaml")
    assert s.runtime == "local" and s.distributed.shards == 8


def test_unknown_runtime_and_bad_shard_count_are_located_errors() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(BASE + "runtime: k8s\ndistributed: {shards: 0}\n", "x.yaml")
    text = str(err.value)
    assert "x.yaml:2 runtime" in text and "distributed.shards" in text


@pytest.mark.parametrize(
    ("role", "runtime", "message"),
    [
        ("all", "ray", "runtime: ray runs as separate processes"),
    ],
)
def test_roles_that_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], role: str, runtime: str, message: str
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BASE + f"runtime: {runtime}\n")
    assert main(["run", "-c", str(cfg), "--role", role]) == 2
    assert message in capsys.readouterr().err


def test_api_role_runs_the_local_runtime_without_cameras() -> None:
    s = api_settings(parse_settings(BASE + CAM + "runtime: ray\n", "x.yaml"))
    assert s.cameras == [] and s.runtime == "local" and s.grids[0].id == "G-001"
