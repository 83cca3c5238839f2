"""An operator action refused for a reason the page can say in the reader's language: a stable code."""

from __future__ import annotations

from typing import Any


class ActionRefused(ValueError):
    """``code`` names the reason (the page translates it); ``params`` fill in its sentence."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params
