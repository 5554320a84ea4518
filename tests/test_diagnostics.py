"""Config entry diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.wsd_scan.const import (
    CONF_CA_FILE,
    CONF_CALLBACK_URL,
    CONF_ENDPOINT,
    CONF_POST_SCAN,
    CONF_USER_IDENTIFIER,
)
from simulator import SimulatedScanner

from .ha_fixtures import scan, scanner_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")

REDACTED = "**REDACTED**"


@pytest.fixture(autouse=True)
async def diagnostics_view(hass: HomeAssistant) -> None:
    """Register the diagnostics view before the test server starts."""
    assert await async_setup_component(hass, "diagnostics", {})


async def test_diagnostics_describe_the_scanner_without_secrets(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Device, capabilities, status and push state; addresses and secrets redacted."""
    scanner.raise_condition("Paused")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )

    assert diagnostics["entry"]["data"] == {"host": REDACTED, "xaddrs": REDACTED}
    assert diagnostics["entry"]["options"] == {"callback_url": REDACTED}
    device = diagnostics["device"]
    assert device["manufacturer"] == "Simulated Imaging"
    assert device["model"] == "OfficeJet Sim 4200dn"
    assert device["firmware_version"] == "2.14.0"
    for secret in ("uuid", "serial_number", "presentation_url", "scan_service_url"):
        assert device[secret] == REDACTED
    assert all(service["addresses"] == REDACTED for service in device["services"])
    assert diagnostics["elements"]["capabilities"]["adf_duplex"] is True
    conditions = diagnostics["status"]["status"]["active_conditions"]
    assert [condition["name"] for condition in conditions] == ["Paused"]
    assert diagnostics["available"] is True
    push = diagnostics["push"]
    assert push["state"] == "working"
    assert push["notify_base_url"] == REDACTED
    assert push["last_error"] is None
    subscription = push["subscription"]
    assert subscription["expires_in"] == 600.0
    for secret in ("identifier", "notify_url", "manager_address", "manager_parameters"):
        assert subscription[secret] == REDACTED
    text = str(diagnostics)
    assert scanner.uuid not in text
    assert "SIM4200-000123" not in text
    assert "127.0.0.1" not in text
    panel = diagnostics["panel"]
    assert panel["profiles"] == [{"id": "home_assistant", "name": "Home Assistant"}]
    assert panel["last_error"] is None
    for secret in ("identifier", "notify_url", "destination_tokens"):
        assert panel["subscription"][secret] == REDACTED
    for token in loaded_entry.runtime_data.panel.destination_tokens.values():
        assert token not in text


async def test_diagnostics_snapshot(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    loaded_entry: MockConfigEntry,
) -> None:
    """The whole document, compared with the stored snapshot (not the device clock)."""
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    assert diagnostics == snapshot(exclude=props("current_time"))


async def test_diagnostics_redact_the_last_scan_and_post_scan_settings(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    scanner: SimulatedScanner,
    callback_url: str,
    tmp_path: Path,
) -> None:
    """Scanner UUID, endpoint, SID and CA file redacted; paths are plain strings."""
    ca_file = tmp_path / "scan-server-ca.pem"
    entry = scanner_entry(
        scanner,
        **{
            CONF_CALLBACK_URL: callback_url,
            CONF_POST_SCAN: {
                CONF_ENDPOINT: "https://scan-server.example:5362/ScanServer/PostScan",
                CONF_USER_IDENTIFIER: "S-1-5-21-1004336348-1177238915-682003330-512",
                CONF_CA_FILE: str(ca_file),
            },
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    response = await scan(hass, scanner.uuid, source="platen", file_name="letter")

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    await hass.config_entries.async_unload(entry.entry_id)

    assert diagnostics["entry"]["options"][CONF_POST_SCAN] == {
        CONF_ENDPOINT: REDACTED,
        CONF_USER_IDENTIFIER: REDACTED,
        CONF_CA_FILE: REDACTED,
    }
    last_scan = diagnostics["status"]["last_scan"]
    assert last_scan["scanner"] == REDACTED
    assert last_scan["pages"] == 1
    assert [file["path"] for file in last_scan["files"]] == [
        response["files"][0]["path"]
    ]
    assert all(isinstance(preview, str) for preview in last_scan["previews"])
    text = json.dumps(diagnostics)
    for secret in (scanner.uuid, "scan-server.example", "S-1-5-21", str(ca_file)):
        assert secret not in text
    assert "__type" not in text
