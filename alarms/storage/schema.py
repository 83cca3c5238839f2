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
    text,
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
    # Where to go (migration 0004): address, landmark, coordinates and names; null for older incidents.
    Column("place", JSON),
    # Keyword search (migration 0006, alarms/storage/search_terms.py): indexed by PostgreSQL's GIN over
    # to_tsvector('simple', search_terms) and SQLite's FTS5 table incident_fts (not declarable here).
    Column("search_terms", Text),
    # History, newest first, by each filter (migration 0006): (filter, created_at, id) pages by keyset.
    Index("ix_incidents_state_created", "state", "created_at", "id"),
    Index("ix_incidents_grid_created", "grid_id", "created_at", "id"),
    Index("ix_incidents_street_created", "street_id", "created_at", "id"),
    Index("ix_incidents_category_created", "category", "created_at", "id"),
    Index("ix_incidents_assignee_created", "assignee", "created_at", "id"),
    Index("ix_incidents_created", "created_at"),
    Index("ix_incidents_search", text("to_tsvector('simple', search_terms)"), postgresql_using="gin").ddl_if(
        dialect="postgresql"
    ),
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

# A camera's rule silenced after a false alarm (migration 0005): it expires at `until` or is lifted early;
# `ended_at` is set then, so an active silence is `ended_at IS NULL`.
silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera_id", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("rule", String(128)),
    Column("incident_id", Integer, nullable=False, index=True),
    Column("grid_id", String(64), nullable=False),
    Column("street_id", String(64), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("reason", Text),
    Column("created_at", Float, nullable=False),
    Column("until", Float, nullable=False),
    Column("ended_at", Float),
    Column("ended_by", String(128)),
    Column("end_reason", String(16)),  # expired | lifted
    Column("suppressed", Integer, nullable=False, default=0),
    Index("ix_silences_source", "camera_id", "category", "ended_at"),
)

# SQLite's FTS5 table for keyword search and its shadow tables (migration 0006): virtual tables that
# SQLAlchemy cannot declare, so schema comparisons leave them out.
SQLITE_SEARCH_TABLES = frozenset(
    f"incident_fts{suffix}" for suffix in ("", "_data", "_idx", "_docsize", "_config")
)

# The field loop (migration 0007, alarms/roster.py): people and units seeded from config, who is sent to an
# incident (one row per person or unit, lead or helper) and the photos they took there.
units = Table(
    "units",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("kind", String(32), nullable=False),  # police_station | fire_station | urban_management | …
    Column("phone", String(32)),
    Column("grids", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Migration 0008: deactivated rather than deleted; once edited on the page, config no longer touches it.
    Column("active", Boolean, nullable=False, default=True),
    Column("edited_at", Float),
    Column("edited_by", String(128)),
)

people = Table(
    "people",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(32), nullable=False),  # grid_worker | police | community | firefighter | …
    Column("unit_id", String(64)),
    Column("phone", String(32)),
    Column("grids", JSON, nullable=False),
    Column("shifts", JSON, nullable=False),
    Column("username", String(64), index=True),
    Column("channels", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", Float, nullable=False),
    Column(
        "edited_at", Float
    ),  # migration 0008: set by a page edit, after which config seeding skips the row
    Column("edited_by", String(128)),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # person | unit
    Column("target_id", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    Column("lead", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),  # assigned | accepted | arrived | withdrawn
    Column("assigned_by", String(128), nullable=False),
    Column("assigned_at", Float, nullable=False),
    Column("accept_deadline", Float, nullable=False),
    Column("arrive_deadline", Float, nullable=False),
    Column("accepted_at", Float),
    Column("arrived_at", Float),
    Column("location", JSON),
    Column("missed", String(16)),  # the last deadline missed and escalated: accept | arrive
    Index("ix_assignments_target", "target_id", "status"),
)

field_photos = Table(
    "field_photos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, nullable=False, index=True),
    Column("uploaded_by", String(128), nullable=False),
    Column("file", String(128), nullable=False),
    Column("thumb", String(128), nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("exif_location", JSON),  # kept as data; the served file has no EXIF
    Column("created_at", Float, nullable=False),
)

# Every page edit of the roster (migration 0008, alarms/roster_admin.py): who, when, and the row before and
# after as JSON (before is null for a creation).
roster_audit = Table(
    "roster_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("kind", String(8), nullable=False),  # person | unit
    Column("target_id", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # create | update | deactivate
    Column("before", JSON),
    Column("after", JSON),
    Index("ix_roster_audit_target", "kind", "target_id", "id"),
)
