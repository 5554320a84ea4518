"""Config flow for WSD Scan."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST
import probatio

from .const import DOMAIN

USER_SCHEMA = probatio.Schema({probatio.Required(CONF_HOST): str})


class WsdScanConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a WSD scanner."""

    VERSION = 1

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the scanner's host."""
        if user_input is None:
            return self.async_show_form(step_id="user", data_schema=USER_SCHEMA)
        host = user_input[CONF_HOST].strip()
        self._async_abort_entries_match({CONF_HOST: host})
        return self.async_create_entry(title=host, data={CONF_HOST: host})
