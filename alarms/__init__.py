"""Alarm layer: grids, rules, incidents and their closed loop, storage, outbox and delivery."""
