"""Shared fixtures: a private mosquitto, a signature-verifying webhook receiver, the service as a process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sharpeyes.receiver import DispatchReceiver
from tests.support.mosquitto import Mosquitto
from tests.support.service import SECRET

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def assets() -> Path:
    path = Path(os.environ.get("SHARPEYES_ASSETS", REPO.parent / "shared" / "assets"))
    assert path.is_dir(), f"shared assets not found at {path}: set SHARPEYES_ASSETS"
    return path


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
def receiver() -> Iterator[DispatchReceiver]:
    recv = DispatchReceiver(SECRET).start()
    yield recv
    recv.stop()
