"""Button signals in the engine's terms: where a button stands, and which trigger (category, evidence,
event id) a press, tamper or low-battery report raises. Cameras have the same step in ``video/triggers.py``;
past it the engine sees only triggers."""

from __future__ import annotations

from alarms.grids import GridDirectory, Placement
from alarms.triggers import Trigger
from ingest.types import PanicSignal, SignalKind

# The signal kinds that raise an incident, and its category. A CANCEL raises none (only an operator closes
# an incident, the cancel goes on its timeline); a HEARTBEAT only marks the button as heard.
SIGNAL_CATEGORY = {
    SignalKind.PRESS: "sos",
    SignalKind.TAMPER: "tamper",
    SignalKind.LOW_BATTERY: "low_battery",
}


def placements(directory: GridDirectory, sigs: list[PanicSignal]) -> list[Placement]:
    """Each signal's placement; KeyError for a button the directory does not know (checked before any
    write, so an unknown button stores nothing of its batch)."""
    out = []
    for sig in sigs:
        placement = directory.placement(sig.button_id)
        if placement is None:
            raise KeyError(sig.button_id)
        out.append(placement)
    return out


def button_trigger(sig: PanicSignal, placement: Placement) -> Trigger | None:
    """The trigger a signal raises, or None for a kind that raises no incident."""
    cat = SIGNAL_CATEGORY.get(sig.kind)
    if cat is None:
        return None
    return Trigger(
        category=cat,
        source_kind="button",
        source_id=sig.button_id,
        placement=placement,
        ts=sig.received_at,
        note=f"{sig.kind.value} seq={sig.seq}",
        evidence={"last_seq": sig.seq, "last_boot": sig.boot, "device_ts": sig.device_ts},
        source_ts=sig.device_ts,
        status=str(sig.extra.get("status", "Actual")),
        event_id=sig.event_id,
    )


def sos_key(button_id: str) -> str:
    """The open key of a button's SOS incident (what a cancel press refers to)."""
    return f"sos:{button_id}"


def offline_key(button_id: str) -> str:
    """The open key of a button's device_offline incident (closed when the button is heard again)."""
    return f"device_offline:{button_id}"
