"""Ingest layer: camera sources and the MQTT button listener. Knows nothing about incidents."""
