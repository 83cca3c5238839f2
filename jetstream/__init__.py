"""Everything on NATS JetStream: streams, the observation and button buses, the delivery work queue,
the shards' spool and the live relay between processes (DESIGN.md §6)."""
