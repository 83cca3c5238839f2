"""`sharpeyes run --role api`: the local runtime without cameras, plus live push across processes.

Several API processes may serve the page behind one address; each one's live stream must show every
committed change, whether its own engine (buttons, operator actions, deadline ticks) or another process (the
engine role, another API process) made it. The runtime's PushRelay publishes this process's changes and feeds
the others' into its hub.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sharpeyes.runtime import ApiRole, LocalRuntime
from sharpeyes.settings import Settings
from video.config import CameraConfig


class ApiRuntime(LocalRuntime):
    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        cameras: list[CameraConfig] | None = None,
        **kwargs: Any,
    ) -> None:
        """`settings` without cameras (`api_settings`); `cameras`: the ones the shards run, for scope,
        listing and evidence pictures."""
        super().__init__(settings, env, api=ApiRole.from_settings(settings, cameras), **kwargs)
