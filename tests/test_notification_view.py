"""The notification endpoint: only live subscriptions, from the scanner, bounded."""

from __future__ import annotations

import uuid

import aiohttp
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import NOTIFY_PATH
from simulator import SimulatedScanner

from .ha_fixtures import entity_id

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: Another loopback address: a sender that is not the scanner.
STRANGER = "127.0.0.2"


def jam_notification(identifier: str, padding: int = 0) -> bytes:
    """Return a ScannerStatusConditionEvent (a jam) as a scanner sends it."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"
    xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
    xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"
    xmlns:sca="http://schemas.microsoft.com/windows/2006/08/wdp/scan">
  <soap:Header>
    <wsa:To>http://127.0.0.1/notify</wsa:To>
    <wsa:Action>http://schemas.microsoft.com/windows/2006/08/wdp/scan/ScannerStatusConditionEvent</wsa:Action>
    <wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>
    <wse:Identifier>{identifier}</wse:Identifier>
  </soap:Header>
  <soap:Body>
    <sca:ScannerStatusConditionEvent>
      <sca:DeviceCondition Id="99">
        <sca:Time>2026-01-01T00:00:00Z</sca:Time>
        <sca:Name>MediaJam</sca:Name>
        <sca:Component>MediaPath</sca:Component>
        <sca:Severity>Critical</sca:Severity>
      </sca:DeviceCondition>
    </sca:ScannerStatusConditionEvent>
  </soap:Body>
</soap:Envelope>{" " * padding}""".encode()


async def post(
    url: str, body: bytes, *, source: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """POST `body` from the address `source`; return status and body of the answer."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(
            url, data=body, headers={"Content-Type": "application/soap+xml"}
        ) as response,
    ):
        return response.status, await response.read()


@pytest.fixture
def identifier(loaded_entry: MockConfigEntry) -> str:
    """Return the identifier of the entry's live subscription."""
    manager = loaded_entry.runtime_data.coordinator.manager
    assert manager is not None
    assert manager.subscription is not None
    return manager.subscription.identifier


@pytest.fixture
def problem(entity_registry: er.EntityRegistry, scanner: SimulatedScanner) -> str:
    """Return the entity id of the problem sensor."""
    return entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")


async def test_the_scanner_notification_is_accepted(
    hass: HomeAssistant, callback_url: str, identifier: str, problem: str
) -> None:
    """From the scanner's address, for its live subscription: 202, empty, applied."""
    status, body = await post(
        f"{callback_url}{NOTIFY_PATH}/{identifier}", jam_notification(identifier)
    )
    await hass.async_block_till_done()

    assert (status, body) == (202, b"")
    assert hass.states.get(problem).state == STATE_ON


@pytest.mark.parametrize(
    ("path_identifier", "source"),
    [
        (f"urn:uuid:{uuid.uuid4()}", "127.0.0.1"),
        (None, STRANGER),
    ],
    ids=["unknown identifier", "not from the scanner"],
)
async def test_spoofed_notifications_are_rejected(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    callback_url: str,
    identifier: str,
    problem: str,
    path_identifier: str | None,
    source: str,
) -> None:
    """A guessed identifier or another sender changes nothing."""
    spoofed = path_identifier or identifier
    status, _ = await post(
        f"{callback_url}{NOTIFY_PATH}/{spoofed}",
        jam_notification(spoofed),
        source=source,
    )
    await hass.async_block_till_done()

    assert status == 403
    assert hass.states.get(problem).state == STATE_OFF


async def test_oversized_notifications_are_refused(
    hass: HomeAssistant, callback_url: str, identifier: str, problem: str
) -> None:
    """A body beyond the limit is not read, let alone applied."""
    status, _ = await post(
        f"{callback_url}{NOTIFY_PATH}/{identifier}",
        jam_notification(identifier, padding=300 * 1024),
    )
    await hass.async_block_till_done()

    assert status == 413
    assert hass.states.get(problem).state == STATE_OFF


async def test_unloaded_subscriptions_are_rejected(
    hass: HomeAssistant,
    callback_url: str,
    loaded_entry: MockConfigEntry,
    identifier: str,
) -> None:
    """The view outlives the entry; the entry's subscriptions do not."""
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)

    status, _ = await post(
        f"{callback_url}{NOTIFY_PATH}/{identifier}", jam_notification(identifier)
    )

    assert status == 403
