"""Evidence in an S3-compatible object store (MinIO, Ceph RGW, AWS S3) through boto3 — imported only when
`storage.evidence.backend: s3` is configured, so the default folder storage needs none of it.

Writes never wait for the network. An object is written whole to a local spool (``<spool>/<area>/<key>``,
the folder layout) and queued; the ``evidence-upload`` thread moves the queue to the bucket in order (a
clip's MP4 before its JSON record, so a record never names a missing file) and deletes the spool copy once
the store has it. When the store cannot be reached the upload is counted
(``sharpeyes_evidence_store_failures_total{op="upload"}``), logged once — with the error, the object and
how much waits — and retried with backoff up to ``retry_max_s``; recovery is logged once too. The spool
survives a restart (re-queued at start). Past ``spool_max_bytes`` new evidence is refused (``op=
"spool_full"``): the caller records it as missing, the incident goes on.

Reads look in the spool first (evidence not uploaded yet is served by the process that wrote it), then in
the bucket (HEAD, ranged GET), so every process with the same config — the API role beside the shards —
serves what another one wrote once it is uploaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alarms.evidence_config import S3EvidenceConfig
from video.evidence_store import (
    CHUNK,
    EvidenceMetrics,
    EvidenceStorage,
    EvidenceStore,
    EvidenceUnavailable,
    ObjectInfo,
    StoredObject,
    check_key,
    list_folder,
    open_file_range,
)
from video.evidence_upload import SpoolFull, Uploader

log = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(((response or {}).get("Error") or {}).get("Code", "")) if isinstance(response, dict) else ""


class S3Storage(EvidenceStorage):
    backend = "s3"

    def __init__(
        self,
        cfg: S3EvidenceConfig,
        *,
        env: Mapping[str, str],
        registry: CollectorRegistry | None,
        spool: Path,
    ) -> None:
        self.cfg, self.spool = cfg, spool
        self.metrics = EvidenceMetrics(registry or CollectorRegistry())
        prefix = cfg.prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self._keys = self._credentials(env)
        self._client: Any = None
        self._lock = threading.Lock()
        self.client()  # built now, at start (no request is made): not on the first alarm's heels
        self.uploader = Uploader(self)
        self.uploader.recover()

    def _credentials(self, env: Mapping[str, str]) -> tuple[str | None, str | None]:
        """The values of the named variables (kept in memory, never logged); a name that is unset is said
        once at start, by name: then the SDK's own chain (instance role, AWS_* variables) is tried."""
        out: list[str | None] = []
        for name in (self.cfg.access_key_env, self.cfg.secret_key_env):
            value = env.get(name) if name else None
            if name and not value:
                log.warning("storage.evidence.s3: environment variable %s is not set", name)
            out.append(value or None)
        access, secret = out
        return (access, secret) if access and secret else (None, None)  # a pair or the SDK's chain

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    import boto3
                    from botocore.config import Config
                except ImportError as exc:
                    raise RuntimeError(
                        "storage.evidence.backend s3 needs boto3: pip install 'sharpeyes[s3]'"
                    ) from exc

                cfg = self.cfg
                config = Config(
                    region_name=cfg.region,
                    connect_timeout=cfg.connect_timeout_s,
                    read_timeout=cfg.read_timeout_s,
                    retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": cfg.addressing_style},
                    signature_version="s3v4",
                    # MinIO and Ceph releases that predate the SDK's default CRC checksums refuse them.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
                access, secret = self._keys
                self._client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=cfg.endpoint_url,
                    aws_access_key_id=access,
                    aws_secret_access_key=secret,
                    config=config,
                )
            return self._client

    def object_key(self, area: str, key: str) -> str:
        return f"{self.prefix}{area}/{key}"

    def area(self, name: str, folder: str | Path) -> EvidenceStore:
        return S3Store(self, name)

    def describe(self) -> str:
        return f"s3 {self.cfg.endpoint_url or 'aws'} bucket {self.cfg.bucket!r} prefix {self.prefix!r}"

    def close(self, timeout: float = 5.0) -> None:
        self.uploader.stop(timeout)

    def failed(self, area: str, op: str) -> None:
        self.metrics.failures.labels(self.backend, area, op).inc()


class S3Store(EvidenceStore):
    backend = "s3"

    def __init__(self, storage: S3Storage, area: str) -> None:
        self.s, self.area = storage, area
        self.root = storage.spool / area

    def local_path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self.local_path(key)
        self.s.uploader.reserve(self.area, len(data))
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError:
            self.s.failed(self.area, "write")
            raise
        self.s.uploader.enqueue(self.area, key, len(data))

    def commit(self, key: str) -> None:
        path = self.local_path(key)
        try:
            size = path.stat().st_size
        except OSError:
            self.s.failed(self.area, "write")
            raise
        try:
            self.s.uploader.reserve(self.area, size)
        except SpoolFull:  # counted there; the file would never leave the spool
            path.unlink(missing_ok=True)
            raise
        self.s.uploader.enqueue(self.area, key, size)

    def exists_here(self, key: str) -> bool:
        return self.local_file(key) is not None or self.s.uploader.recent(self.area, key)

    def _call(self, op: str, method: str, key: str, **kwargs: Any) -> Any:
        """One request for ``key``; None when there is no such object, EvidenceUnavailable on failure."""
        try:
            return getattr(self.s.client(), method)(
                Bucket=self.s.cfg.bucket, Key=self.s.object_key(self.area, check_key(key)), **kwargs
            )
        except Exception as exc:  # botocore's ClientError / BotoCoreError, without importing them here
            if _error_code(exc) in _MISSING:
                return None
            self.s.failed(self.area, op)
            raise EvidenceUnavailable(f"evidence store: {method} {self.area}/{key}: {exc}") from None

    def find(self, key: str) -> StoredObject | None:
        path = self.local_path(key)
        try:
            st = path.stat()
        except FileNotFoundError:
            pass
        else:  # waiting in the spool: read from there (open_range falls back to the bucket)
            return StoredObject(self, key, st.st_size, f"{st.st_mtime_ns}-{st.st_size}", st.st_mtime)
        head = self._call("read", "head_object", key)
        if head is None:
            return None
        modified = head.get("LastModified")
        return StoredObject(
            self,
            key,
            int(head["ContentLength"]),
            str(head.get("ETag", "")).strip('"'),
            modified.timestamp() if modified is not None else None,
        )

    def open_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        try:
            return open_file_range(self.local_path(key), start, end)
        except FileNotFoundError:
            pass  # uploaded (or never there): the bucket
        if end <= start:
            return iter(())
        got = self._call("read", "get_object", key, Range=f"bytes={start}-{end - 1}")
        if got is None:
            raise FileNotFoundError(f"{self.area}/{key}")
        return _body_chunks(got["Body"])

    def read(self, key: str) -> bytes | None:
        local = self.local_file(key)
        if local is not None:
            try:
                return local.read_bytes()
            except FileNotFoundError:
                pass
        got = self._call("read", "get_object", key)
        if got is None:
            return None
        with got["Body"] as body:
            data: bytes = body.read()
        return data

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """The bucket's objects under this area (and ``prefix``), plus what still waits in the spool."""
        head = self.s.object_key(self.area, "")
        found: dict[str, ObjectInfo] = {}
        try:
            pages = self.s.client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.s.cfg.bucket, Prefix=head + prefix):
                for item in page.get("Contents", []):
                    key = str(item["Key"])[len(head) :]
                    found[key] = ObjectInfo(key, int(item["Size"]), str(item.get("ETag", "")).strip('"'))
        except Exception as exc:
            self.s.failed(self.area, "read")
            raise EvidenceUnavailable(f"evidence store: listing {self.area}/{prefix}: {exc}") from None
        for info in list_folder(self.root, prefix):
            found.setdefault(info.key, info)
        return list(found.values())

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)
        self._call("delete", "delete_object", key)


def _body_chunks(body: Any) -> Iterator[bytes]:
    with body:
        yield from body.iter_chunks(CHUNK)
