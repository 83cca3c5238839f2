"""Detector layer: models, motion gate, batching and zone geometry. Decides nothing about alarms."""
