"""The distributed runtime (DESIGN.md section 6): Ray shards own cameras, NATS JetStream carries observations,
PostgreSQL holds incidents. Nothing here is imported by the local runtime; ray and nats load lazily."""
