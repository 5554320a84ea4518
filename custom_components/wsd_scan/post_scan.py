"""Hand stored scans to a WS-DSP post-scan endpoint (a distributed scan server).

Configured in the options (`CONF_POST_SCAN`). The files are uploaded from the media
library, where they were stored first (upload.py: what happens when that fails).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
import ssl
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .const import (
    CONF_CA_FILE,
    CONF_DOCUMENT_ROOT,
    CONF_ENDPOINT,
    CONF_FILTERS,
    CONF_POST_SCAN,
    CONF_SCAN_PROCESS_ID,
    CONF_USER_IDENTIFIER,
    CONF_VERIFY_TLS,
)
from .storage import StoredScan
from .upload import UploadTarget
from .wsd import (
    NULL_SID,
    PostScanJobStatus,
    PostScanSettings,
    WsdError,
    find_post_scan_endpoint,
    post_scan,
    post_scan_ssl,
)

ISSUE_POST_SCAN_FAILED: Final = "post_scan_failed"


def post_scan_settings(
    config: Mapping[str, Any], document_root: str
) -> PostScanSettings:
    """Return the job settings of a post-scan configuration (raises `WsdError`)."""
    return PostScanSettings(
        user_identifier=config.get(CONF_USER_IDENTIFIER) or NULL_SID,
        scan_process_id=config.get(CONF_SCAN_PROCESS_ID) or None,
        document_root_name=config.get(CONF_DOCUMENT_ROOT) or document_root,
        filters=tuple(config.get(CONF_FILTERS, ())),
    )


def tls_setting(config: Mapping[str, Any]) -> ssl.SSLContext | bool:
    """Return the `ssl` argument of a configuration (blocking: reads the CA file)."""
    ca_file = config.get(CONF_CA_FILE)
    return post_scan_ssl(
        ca_file=Path(ca_file) if ca_file else None,
        verify=config.get(CONF_VERIFY_TLS, True),
    )


class PostScanTarget(UploadTarget):
    """The post-scan endpoint of one scanner's entry."""

    options_key = CONF_POST_SCAN
    failure_key = ISSUE_POST_SCAN_FAILED
    target_key = CONF_ENDPOINT

    def __init__(
        self, hass: HomeAssistant, entry_id: str, name: str, config: Mapping[str, Any]
    ) -> None:
        """Send to the endpoint `config` describes; `name` is the scanner's."""
        super().__init__(hass, entry_id, name, config)
        self._endpoint: str | None = None
        self._ssl: ssl.SSLContext | bool | None = None

    async def async_send(
        self, scan: StoredScan, on_status: Callable[[PostScanJobStatus], None]
    ) -> PostScanJobStatus:
        """Upload the scan's files as one post-scan job; return its final status.

        Raises a translated `HomeAssistantError` (and raises a repair issue) when the
        endpoint cannot take them; the files are not touched.
        """
        session = async_get_clientsession(self.hass)
        try:
            if self._ssl is None:
                self._ssl = await self.hass.async_add_executor_job(
                    partial(tls_setting, self.config)
                )
            if self._endpoint is None:
                self._endpoint = await find_post_scan_endpoint(
                    session, self.target, ssl=self._ssl
                )
            status = await post_scan(
                session,
                self._endpoint,
                [file.path for file in scan.files],
                post_scan_settings(self.config, scan.name),
                ssl=self._ssl,
                on_status=on_status,
            )
        except WsdError as err:
            raise self._failed(scan, err) from err
        self._uploaded(scan, status)
        return status
