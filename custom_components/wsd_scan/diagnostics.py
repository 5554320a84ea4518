"""Diagnostics: what the scanner said about itself and how its status reaches us."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import PurePath
from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_HOST, CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant

from .const import (
    CONF_CA_FILE,
    CONF_CALLBACK_URL,
    CONF_ENDPOINT,
    CONF_USER_IDENTIFIER,
    CONF_XADDRS,
)
from .dsp_view import CONF_RECEIVE_SECRET
from .models import WsdScanConfigEntry
from .wsd import SubscriptionManager

#: Addresses, identities and the subscription's secrets (the identifier in the notify URL
#: is what makes a notification acceptable). `scanner` is the endpoint UUID a stored scan
#: names; the post-scan endpoint's user is a Windows SID, its CA file a local path.
TO_REDACT: Final = {
    CONF_HOST,
    CONF_XADDRS,
    CONF_CALLBACK_URL,
    CONF_ENDPOINT,
    CONF_USER_IDENTIFIER,
    CONF_CA_FILE,
    # The key to the post-scan endpoint Home Assistant serves.
    CONF_RECEIVE_SECRET,
    # Paperless-ngx: its address and the API token.
    CONF_URL,
    CONF_TOKEN,
    "uuid",
    "scanner",
    "user_name",
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
            # Entries of the library's device quirk table active for this model.
            "quirks": list(runtime.scan_client.quirks.names),
            "elements": asdict(runtime.elements),
            "status": _plain(
                {
                    "status": asdict(coordinator.data),
                    **{
                        key: asdict(value) if value is not None else None
                        for key, value in (
                            ("job", runtime.activity.job),
                            ("last_scan", runtime.activity.last_scan),
                            ("post_scan", runtime.activity.post_scan),
                        )
                    },
                }
            ),
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


def _plain(value: Any) -> Any:
    """Return `value` with paths as strings (the last scan's files) and tuples as lists.

    Tuples become lists so that redaction reaches the dicts inside them.
    """
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    return value


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
