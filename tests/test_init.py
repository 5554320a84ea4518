"""Setting up, unloading and reloading a scanner's config entry; its device."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from lxml import etree
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import CONF_CALLBACK_URL, DOMAIN
from custom_components.wsd_scan.coordinator import PushState
from simulator import SimulatedScanner
from simulator.soap import WSDP

from .ha_fixtures import scanner_entry, status_subscriptions

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_setup_subscribes_and_unload_unsubscribes(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A loaded entry holds a status subscription on the scanner; unloading ends all."""
    assert loaded_entry.state is ConfigEntryState.LOADED
    runtime = loaded_entry.runtime_data
    assert runtime.device.uuid == scanner.uuid
    assert runtime.scan_client.url == scanner.scan_url
    assert runtime.elements.capabilities is not None
    assert runtime.coordinator.push_state is PushState.PENDING
    assert len(status_subscriptions(scanner)) == 1

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert scanner.subscriptions == {}


async def test_reload_replaces_the_subscription(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A reload ends the old subscription and makes one new one."""
    (before,) = status_subscriptions(scanner)

    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.LOADED
    (after,) = status_subscriptions(scanner)
    assert after != before


async def test_stopping_home_assistant_unsubscribes(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Home Assistant does not unload entries when it stops; the scanner is told."""
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()

    assert scanner.subscriptions == {}


async def test_offline_scanner_is_not_ready(
    hass: HomeAssistant, scanner: SimulatedScanner, callback_url: str
) -> None:
    """An unreachable scanner leaves the entry to be retried, with a reason."""
    await scanner.set_online(False)
    entry = scanner_entry(scanner, **{CONF_CALLBACK_URL: callback_url})
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert entry.reason.startswith("Cannot reach the scanner at 127.0.0.1")


async def test_device_without_scan_service_is_not_ready(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    callback_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A device whose metadata hosts no scan service (scanning switched off) waits."""
    describe = scanner._metadata  # noqa: SLF001 - no switch for a printer-only device

    async def describe_printer_only(*args: Any) -> etree._Element:
        metadata = await describe(*args)
        for hosted in metadata.iter(f"{{{WSDP}}}Hosted"):
            hosted.getparent().remove(hosted)
        return metadata

    monkeypatch.setattr(scanner, "_metadata", describe_printer_only)
    entry = scanner_entry(scanner, **{CONF_CALLBACK_URL: callback_url})
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)

    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "offers no WSD scan service" in entry.reason


async def test_device_registry_entry(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """The device carries what the scanner's metadata says."""
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, scanner.uuid), loaded_entry.entry_id
    )
    assert device is not None
    assert device.name == "Simulated Office MFP"
    assert device.manufacturer == "Simulated Imaging"
    assert device.model == "OfficeJet Sim 4200dn"
    assert (
        device.model_id is None
    )  # the model says it: not "OfficeJet Sim 4200dn (4200dn)"
    assert device.serial_number == "SIM4200-000123"
    assert device.sw_version == "2.14.0"
    assert device.configuration_url == scanner.presentation_url
