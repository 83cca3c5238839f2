"""The detector protocol and a registry that builds a backend from its config.

Backends register themselves with `@register("kind")`; `build_detector` imports the built-in backend modules
on first use, so choosing `classical_fire` never pays for importing onnxruntime or ultralytics.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from detectors.types import DetectionResult
from ingest.types import Frame


@runtime_checkable
class Detector(Protocol):
    """Runs one model over a batch of frames, possibly from many cameras.

    `detect` returns one result per frame, in order. Backends with per-camera state (flicker history,
    tracking) key it by `frame.camera_id`. `close` frees sessions and threads; a closed detector is not
    reused.
    """

    name: str
    class_names: tuple[str, ...]

    def detect(self, frames: Sequence[Frame]) -> list[DetectionResult]: ...

    def close(self) -> None: ...


DetectorFactory = Callable[[Any], Detector]
F = TypeVar("F", bound=DetectorFactory)

_REGISTRY: dict[str, DetectorFactory] = {}

# kind -> module that registers it; imported lazily by build_detector.
_BUILTIN_MODULES: dict[str, str] = {
    "onnx": "detectors.onnx_yolo",
    "ultralytics": "detectors.ultralytics_backend",
    "classical_fire": "detectors.classical_fire",
    "density": "detectors.density",
    "crowd_fusion": "detectors.crowd_fusion",
    "tiled": "detectors.tiled_boxes",
    "fire_fusion": "detectors.fire_fusion",
}


def register(kind: str) -> Callable[[F], F]:
    """Class or function decorator: `kind` in config builds a detector by calling `factory(config)`."""

    def decorate(factory: F) -> F:
        existing = _REGISTRY.get(kind)
        if existing is not None and existing is not factory:
            raise ValueError(f"detector kind {kind!r} is already registered by {existing!r}")
        _REGISTRY[kind] = factory
        return factory

    return decorate


def registered_kinds() -> tuple[str, ...]:
    """Every kind that can be built: the registered ones and the built-in ones not yet imported."""
    return tuple(sorted(set(_REGISTRY) | set(_BUILTIN_MODULES)))


def build_detector(config: Any) -> Detector:
    """Build the detector for a config object with a `kind` attribute (one of `DetectorConfig`)."""
    kind = getattr(config, "kind", None)
    if not isinstance(kind, str):
        raise TypeError(f"detector config needs a string 'kind', got {config!r}")
    if kind not in _REGISTRY and kind in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[kind])
    try:
        factory = _REGISTRY[kind]
    except KeyError:
        raise ValueError(f"unknown detector kind {kind!r}; known: {', '.join(registered_kinds())}") from None
    return factory(config)
