"""Writes deploy/grafana/dashboards/sharpeyes.json: the Grafana board for the service's Prometheus metrics.
The board is generated so its panels stay uniform; tests/test_grafana_dashboard.py checks the file is current
and that every metric it queries is one the service exports.

    .venv/bin/python scripts/make_grafana_dashboard.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards" / "sharpeyes.json"
DATASOURCE = {"type": "prometheus", "uid": "sharpeyes-prometheus"}  # provisioning/datasources/prometheus.yaml


def _quantiles(metric: str, by: str = "") -> list[dict[str, str]]:
    group = f"le{', ' + by if by else ''}"
    legend = f"{{{{{by}}}}} " if by else ""
    return [
        {
            "expr": f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket[5m])))",
            "legendFormat": f"{legend}p{int(q * 100)}",
        }
        for q in (0.5, 0.99)
    ]


def _panel(
    title: str, targets: list[dict[str, str]], unit: str, x: int, y: int, kind: str = "timeseries"
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {**t, "datasource": DATASOURCE, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)
        ],
    }


PANELS: list[tuple[str, list[dict[str, str]], str]] = [
    (
        "按键 → 接警平台 延迟 · Press → webhook latency",
        _quantiles("sharpeyes_button_to_webhook_seconds"),
        "s",
    ),
    ("按键 → 事件 延迟 · Press → incident stored", _quantiles("sharpeyes_press_to_incident_seconds"), "s"),
    ("事件 → 接警平台 · Incident → webhook", _quantiles("sharpeyes_incident_to_webhook_seconds"), "s"),
    (
        "推送结果 · Deliveries by result",
        [
            {
                "expr": "sum by (channel, result) (rate(sharpeyes_deliveries_total[5m]))",
                "legendFormat": "{{channel}} {{result}}",
            }
        ],
        "ops",
    ),
    (
        "死信与待发送 · Dead letters and outbox backlog",
        [
            {"expr": "sum(sharpeyes_dead_letters)", "legendFormat": "死信 dead letters"},
            {"expr": "sum(sharpeyes_outbox_pending)", "legendFormat": "待发送 pending"},
        ],
        "short",
    ),
    (
        "摄像头状态 · Camera health",
        [
            {"expr": "count(sharpeyes_camera_state == 2)", "legendFormat": "在线 online"},
            {"expr": "count(sharpeyes_camera_state == 3)", "legendFormat": "重连中 reconnecting"},
            {"expr": "count(sharpeyes_camera_state == 4)", "legendFormat": "离线 offline"},
            {
                "expr": "max(sharpeyes_camera_last_frame_age_seconds)",
                "legendFormat": "最久未出画面 oldest frame (s)",
            },
        ],
        "short",
    ),
    (
        "检测耗时（每帧） · Detector time per frame",
        [
            {
                "expr": "sum by (detector) (rate(sharpeyes_detector_inference_seconds_sum[5m])) / "
                "sum by (detector) (rate(sharpeyes_detector_frames_processed_total[5m]))",
                "legendFormat": "{{detector}}",
            }
        ],
        "s",
    ),
    (
        "丢帧 · Frames dropped",
        [
            {
                "expr": "sum by (camera) (rate(sharpeyes_camera_dropped_frames_total[5m]))",
                "legendFormat": "摄像头 {{camera}}",
            },
            {
                "expr": "sum by (detector) (rate(sharpeyes_detector_frames_dropped_total[5m]))",
                "legendFormat": "检测 {{detector}}",
            },
        ],
        "fps",
    ),
    (
        "队列深度 · Queue depths",
        [
            {"expr": "sum(sharpeyes_outbox_pending)", "legendFormat": "outbox"},
            {"expr": "sum(sharpeyes_observation_spool_depth)", "legendFormat": "observation spool"},
        ],
        "short",
    ),
    (
        "MQTT 消息 · MQTT messages by outcome",
        [
            {
                "expr": "sum by (outcome) (rate(sharpeyes_mqtt_messages_total[5m]))",
                "legendFormat": "{{outcome}}",
            },
            {"expr": "min(sharpeyes_mqtt_connected)", "legendFormat": "已连接 connected"},
        ],
        "short",
    ),
    ("检测排队 · Detector queue wait", _quantiles("sharpeyes_detector_queue_wait_seconds", "detector"), "s"),
    ("GC 停顿 · GC pauses", _quantiles("sharpeyes_gc_pause_seconds", "generation"), "s"),
]


def dashboard() -> dict[str, Any]:
    panels = [
        _panel(t, targets, unit, 12 * (i % 2), 8 * (i // 2)) for i, (t, targets, unit) in enumerate(PANELS)
    ]
    return {
        "uid": "sharpeyes-overview",
        "title": "锐眼 sharpeyes · 运行总览 Overview",
        "tags": ["sharpeyes"],
        "timezone": "Asia/Shanghai",  # DESIGN.md §8: one time zone for people (locale.timezone)
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
