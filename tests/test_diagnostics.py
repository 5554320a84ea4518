"""Config entry diagnostics."""

from __future__ import annotations

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

from simulator import SimulatedScanner

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
