"""Fix flow of the push issues: ask for the callback URL the scanner posts events to.

Offered when Home Assistant knows no URL of its own (`no_callback_url`) or the scanner's
events do not arrive (`callback_unreachable`). The suggestion is Home Assistant's port
on the local address that routes to the scanner. A URL is checked before it is saved
(push.py `async_check_callback_url`): it must reach Home Assistant's notification view
and the scanner must accept a subscription with it. An event arriving through it within
a few seconds proves delivery, and the URL is saved at once; scanners notify only on a
change, so without one the next step says what was and was not checked, and saves on
confirmation. Saving reloads the entry, which subscribes again: the issue comes back if
events still do not arrive.
"""

from __future__ import annotations

import socket
from typing import Any

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util.network import is_ipv6_address
import probatio

from .const import CONF_CALLBACK_URL
from .models import WsdScanConfigEntry
from .options_flow import callback_url
from .push import DELIVERY_WAIT, CallbackUrlError
from .wsd.discovery import directed_probe_url, url_host

#: Home Assistant's port when its HTTP server says none.
DEFAULT_PORT = 8123

SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_CALLBACK_URL): TextSelector(
            TextSelectorConfig(type=TextSelectorType.URL)
        )
    }
)


def _routed_address(host: str) -> str | None:
    """Return the local address the system routes to `host` by (no packet is sent)."""
    family = socket.AF_INET6 if is_ipv6_address(host) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))  # UDP connect only picks the route
            address: str = probe.getsockname()[0]
    except OSError:
        return None
    return f"[{address}]" if family == socket.AF_INET6 else address


class CallbackUrlFlow(RepairsFlow):
    """Ask for the URL the scanner can reach Home Assistant at, and save it."""

    def __init__(self, entry: WsdScanConfigEntry) -> None:
        """Fix the push of `entry`'s scanner."""
        self._entry = entry
        #: The URL that passed the check.
        self._url = ""

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Start with the form."""
        return await self.async_step_callback_url()

    async def async_step_callback_url(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Show the URL form with a suggestion; check a valid URL, save it if it works."""
        errors: dict[str, str] = {}
        error = ""
        if user_input is not None:
            if (url := callback_url(user_input[CONF_CALLBACK_URL])) is None:
                errors[CONF_CALLBACK_URL] = "invalid_callback_url"
            elif self._entry.state is not ConfigEntryState.LOADED:
                return self.async_abort(reason="not_loaded")
            else:
                runtime = self._entry.runtime_data
                try:
                    delivered = await runtime.push.async_check_callback_url(
                        runtime.scan_client, url
                    )
                except CallbackUrlError as err:
                    errors[CONF_CALLBACK_URL] = err.problem
                    error = str(err.error)
                else:
                    self._url = url
                    if delivered:
                        return self._save()
                    return await self.async_step_unconfirmed()
        suggested = user_input or {CONF_CALLBACK_URL: await self._async_suggestion()}
        return self.async_show_form(
            step_id="callback_url",
            data_schema=self.add_suggested_values_to_schema(SCHEMA, suggested),
            errors=errors,
            description_placeholders={"name": self._entry.title, "error": error},
        )

    async def async_step_unconfirmed(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Say that no event arrived yet; save the URL once the user confirms."""
        if user_input is not None:
            return self._save()
        return self.async_show_form(
            step_id="unconfirmed",
            description_placeholders={
                "name": self._entry.title,
                "url": self._url,
                "seconds": f"{DELIVERY_WAIT:.0f}",
            },
        )

    def _save(self) -> RepairsFlowResult:
        """Save the checked URL in the options (the entry reloads with it)."""
        self.hass.config_entries.async_update_entry(
            self._entry, options={**self._entry.options, CONF_CALLBACK_URL: self._url}
        )
        return self.async_create_entry(data={})

    async def _async_suggestion(self) -> str:
        """Return the callback URL set, else Home Assistant's port on the routed address."""
        if current := self._entry.options.get(CONF_CALLBACK_URL):
            return str(current)
        host = url_host(directed_probe_url(self._entry.data[CONF_HOST])) or ""
        address = await self.hass.async_add_executor_job(_routed_address, host)
        if address is None:
            return ""
        http = self.hass.http
        port = http.server_port if http is not None and http.server_port else None
        return f"http://{address}:{port or DEFAULT_PORT}"


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the fix flow of a push issue (its data names the entry)."""
    assert data is not None
    entry: WsdScanConfigEntry | None = hass.config_entries.async_get_entry(
        str(data["entry_id"])
    )
    assert entry is not None
    return CallbackUrlFlow(entry)
