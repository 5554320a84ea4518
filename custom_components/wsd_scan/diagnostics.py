"""Diagnostics: what the scanner said about itself and how its status reaches us."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .const import CONF_CALLBACK_URL, CONF_XADDRS
from .models import WsdScanConfigEntry
from .wsd import SubscriptionManager

#: Addresses, identities and the subscription's secrets (the identifier in the notify URL
#: is what makes a notification acceptable).
TO_REDACT: Final = {
    CONF_HOST,
    CONF_XADDRS,
    CONF_CALLBACK_URL,
    "uuid",
    "serial_number",
    "presentation_url",
    "scan_service_url",
    "addresses",
    "service_id",
    "location",
    "identifier",
    "notify_url",
    "notify_base_url",
    "manager_address",
    "manager_parameters",
    "destination_tokens",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: WsdScanConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    runtime = entry.runtime_data
    coordinator = runtime.coordinator
    device = asdict(runtime.device)
    device["services"] = [
        {
            "service_id": service.service_id,
            "types": sorted(
                f"{{{namespace}}}{name}" for namespace, name in service.types
            ),
            "addresses": service.addresses,
        }
        for service in runtime.device.services
    ]
    return async_redact_data(
        {
            "entry": {"data": dict(entry.data), "options": dict(entry.options)},
            "device": device,
            "elements": asdict(runtime.elements),
            "status": {
                "status": asdict(coordinator.data),
                **{
                    key: asdict(value) if value is not None else None
                    for key, value in (
                        ("job", runtime.activity.job),
                        ("last_scan", runtime.activity.last_scan),
                        ("post_scan", runtime.activity.post_scan),
                    )
                },
            },
            "available": coordinator.last_update_success,
            "push": {
                "state": coordinator.push_state,
                "notify_base_url": runtime.push.base_url,
                **_subscription(coordinator.manager),
            },
            "panel": {
                "profiles": [
                    {"id": profile.profile_id, "name": profile.name}
                    for profile in runtime.panel.profiles.values()
                ],
                **_subscription(runtime.panel.manager),
            },
        },
        TO_REDACT,
    )


def _subscription(manager: SubscriptionManager | None) -> dict[str, Any]:
    """Describe a subscription manager's current subscription and last error."""
    return {
        "subscription": (
            asdict(manager.subscription)
            if manager is not None and manager.subscription is not None
            else None
        ),
        "last_error": (
            manager.last_error.kind
            if manager is not None and manager.last_error is not None
            else None
        ),
    }
