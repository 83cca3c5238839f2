"""The evidence storage of a process and its three areas, as every role builds them (`storage.evidence`).

One expression per area, so the local runtime, the API role, the engine role and the shards agree on where
evidence is: with the folder backend the folders of today (`storage.snapshots_dir`, `clips.dir` or `clips/`
beside the snapshots, `field.photos_dir` or `field-photos/` beside them); with S3 the same keys under
``<prefix>snapshots/``, ``<prefix>clips/`` and ``<prefix>photos/`` of the bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry

from sharpeyes.settings import Settings
from video.clip_recorder import ClipRecorder
from video.clip_store import ClipStore, link_key
from video.evidence_store import EvidenceStorage, evidence_storage
from video.snapshots import SnapshotStore

log = logging.getLogger(__name__)


def snapshots_dir(settings: Settings) -> str:
    return settings.storage.snapshots_path()


def clips_dir(settings: Settings) -> str:
    return settings.clips.dir or str(Path(settings.storage.snapshots_path()).parent / "clips")


def photos_dir(settings: Settings) -> str:
    return settings.field.photos_dir or f"{settings.storage.snapshots_path()}/../field-photos"


def spool_dir(settings: Settings) -> str:
    """S3's local spool, unless `storage.evidence.s3.spool_dir` names one."""
    return str(Path(settings.storage.snapshots_path()).parent / "evidence-spool")


def build_evidence(
    settings: Settings, env: Mapping[str, str], registry: CollectorRegistry | None
) -> EvidenceStorage:
    storage = evidence_storage(
        settings.storage.evidence, env=env, registry=registry, spool_dir=spool_dir(settings)
    )
    if storage.backend != "folder":
        log.info("evidence storage: %s", storage.describe())
    return storage


def snapshot_store(settings: Settings, evidence: EvidenceStorage) -> SnapshotStore:
    return SnapshotStore(evidence.area("snapshots", snapshots_dir(settings)))


def clip_store(settings: Settings, evidence: EvidenceStorage) -> ClipStore:
    return ClipStore(evidence.area("clips", clips_dir(settings)))


def served_clips(
    settings: Settings, evidence: EvidenceStorage, env: Mapping[str, str], recorder: ClipRecorder | None
) -> tuple[ClipStore | None, bytes | None]:
    """What a process without a clip recorder of its own (the API role) serves clips from: the shared
    storage, and the key of its signed links (`clips.link_secret_env`, so a link one API process made
    plays through any other). A process with a recorder serves through it: (None, None)."""
    if recorder is not None or not settings.clips.enabled:
        return None, None
    name = settings.clips.link_secret_env
    return clip_store(settings, evidence), link_key(env.get(name) if name else None)
