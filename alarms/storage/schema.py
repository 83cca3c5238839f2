"""Table definitions (SQLAlchemy Core). Migrations in alarms/storage/migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("category", String(32), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("status", String(10), nullable=False, default="Actual"),
    Column("urgency", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("certainty", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("grid_id", String(64), nullable=False),
    Column("community_id", String(64), nullable=False),
    Column("street_id", String(64), nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ack_deadline", Float, nullable=False),
    Column("close_deadline", Float, nullable=False),
    Column("acknowledged_at", Float),
    Column("dispatched_at", Float),
    Column("started_at", Float),
    Column("resolved_at", Float),
    Column("closed_at", Float),
    Column("evaluated_at", Float),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("trigger_count", Integer, nullable=False, default=1),
    Column("last_trigger_at", Float, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("assignee", String(128)),
    Column("disposition", String(32)),
    Column("resolution_note", Text),
    Column("evaluation", JSON),
    Column("linked_incident_id", Integer),
    Column("merged_into", Integer),
    Column("dispatch_status", String(16), nullable=False, default="none"),
    # Set while the incident is active, NULL after: the unique index makes "one active incident per
    # source and category" a database guarantee, not a race.
    Column("open_key", String(160), unique=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_incidents_state", "state"),
    Index("ix_incidents_grid", "grid_id"),
    Index("ix_incidents_street", "street_id"),
    Index("ix_incidents_created", "created_at"),
    Index("ix_incidents_source", "source_id", "category", "id"),  # the previous incident of a source
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("ts", Float, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16)),
    Column("note", Text),
    Column("version", Integer, nullable=False),
    Column("data", JSON),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("msg_id", String(64), nullable=False, unique=True),
    Column("incident_id", Integer, index=True),
    Column("channel", String(16), nullable=False),  # webhook | mqtt
    Column("target", String(256), nullable=False),  # endpoint name or MQTT topic
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("life_safety", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("source_ts", Float),  # the device's own timestamp, for end-to-end latency
    Column("status", String(16), nullable=False, default="pending"),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text),
    Column("last_status", Integer),
    Column("delivered_at", Float),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

seen_events = Table(
    "seen_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("received_at", Float, nullable=False, index=True),
)

devices = Table(
    "devices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # button | camera
    Column("known", Boolean, nullable=False),
    Column("grid_id", String(64)),
    Column("presence", String(16), nullable=False, default="unknown"),  # online | offline | silent | unknown
    Column("first_seen", Float),
    Column("last_seen", Float),
    Column("last_kind", String(32)),
    Column("last_seq", Integer),
    Column("battery_low", Boolean, nullable=False, default=False),
    Column("tamper", Boolean, nullable=False, default=False),
    Column("messages", Integer, nullable=False, default=0),
    Column("last_topic", String(256)),
    Column("last_error", String(256)),
)

# Operator sign-in (migration 0002). Passwords are argon2id hashes; sessions are stored by the SHA-256 of
# their cookie value, so a database leak does not hand out live sessions.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128)),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),  # operator | supervisor | admin
    Column("streets", JSON),  # null: every street
    Column("grids", JSON),  # null: every grid
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("password_changed_at", Float, nullable=False),
    Column("last_login_at", Float),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Float),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie value
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)
