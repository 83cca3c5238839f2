"""Where evidence is kept (`storage.evidence`): snapshots, clips and field photos in local folders (the
default: today's paths) or in an S3-compatible object store (MinIO, Ceph RGW, AWS S3 …).

The config names the environment variables that hold the access key and secret, never the values: the
config file and the logs stay free of credentials, and `check-config` can be run without them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ingest.config import Strict

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class S3EvidenceConfig(Strict):
    endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/.*)?$",
        description="the object store's address (`http://minio:9000`); unset: AWS S3 in `region`",
    )
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    region: str = "us-east-1"
    prefix: str = Field(
        "",
        max_length=200,
        pattern=r"^[A-Za-z0-9_./-]*$",
        description="key prefix; `snapshots/`, `clips/` and `photos/` go under it",
    )
    access_key_env: str | None = Field(
        "SHARPEYES_S3_ACCESS_KEY",
        pattern=_ENV_NAME,
        description="NAME of the environment variable holding the access key id (null: the SDK's own chain, "
        "e.g. an instance role)",
    )
    secret_key_env: str | None = Field(
        "SHARPEYES_S3_SECRET_KEY", pattern=_ENV_NAME, description="NAME of the variable holding the secret"
    )
    addressing_style: Literal["path", "virtual", "auto"] = Field(
        "path", description="path: `endpoint/bucket/key` (MinIO's default); virtual: `bucket.endpoint/key`"
    )
    connect_timeout_s: float = Field(2.0, gt=0, le=60)
    read_timeout_s: float = Field(10.0, gt=0, le=300)
    spool_dir: str | None = Field(
        None,
        description="local folder where evidence waits for its upload (written there first, so an alarm "
        "never waits for the store); default: `evidence-spool` beside the snapshots",
    )
    spool_max_bytes: int = Field(
        4 * 1024**3,
        ge=1024**2,
        description="what may wait for the store during an outage; past it new evidence is refused (counted)",
    )
    retry_max_s: float = Field(30.0, gt=0, le=600, description="longest wait between upload retries")


class EvidenceStorageConfig(Strict):
    backend: Literal["folder", "s3"] = Field(
        "folder",
        description="folder: `storage.snapshots_dir`, `clips.dir`, `field.photos_dir` as before; s3: the "
        "object store in `s3`",
    )
    s3: S3EvidenceConfig | None = None

    @model_validator(mode="after")
    def _s3_named(self) -> EvidenceStorageConfig:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("backend s3 needs an `s3:` section (endpoint_url, bucket, …)")
        return self
