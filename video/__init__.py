"""The camera pipeline: per-camera state, rule groups, evidence, observation → trigger (DESIGN.md §2)."""
