"""Delivery of incident changes: the outbox, Standard Webhooks signing, retry policy and the sender."""
