"""The fix flow of the push issues: the callback URL, asked and saved."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from unittest.mock import patch

from aiohttp import web
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import CONF_CALLBACK_URL, DOMAIN
from custom_components.wsd_scan.coordinator import PushIssue, PushState
from simulator import SimulatedScanner

from .ha_fixtures import status_subscriptions, until
from .loopback import DeviceFactory

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
async def repairs(hass: HomeAssistant) -> None:
    """Set up repairs before the test server freezes its routes (`callback_url`)."""
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})


async def start_fix_flow(
    hass: HomeAssistant, entry: MockConfigEntry, issue: PushIssue
) -> dict[str, Any]:
    """Start the fix flow of the entry's `issue`; return its first form."""
    flows = hass.data[REPAIRS_DOMAIN]["flow_manager"]
    result: dict[str, Any] = await flows.async_init(
        DOMAIN, context={"issue_id": f"{issue}_{entry.entry_id}"}
    )
    return result


async def submit(hass: HomeAssistant, form: dict[str, Any], url: str) -> Any:
    """Submit `url` in the fix flow's form; return the next step."""
    flows = hass.data[REPAIRS_DOMAIN]["flow_manager"]
    return await flows.async_configure(form["flow_id"], {CONF_CALLBACK_URL: url})


async def test_the_fix_flow_sets_a_callback_url_that_works(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    scanner: SimulatedScanner,
    entry_without_url: MockConfigEntry,
    callback_url: str,
) -> None:
    """No URL of Home Assistant: the fix asks one, suggests one, and push then works."""
    entry = entry_without_url
    issue_id = f"{PushIssue.NO_CALLBACK_URL}_{entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable

    result = await start_fix_flow(hass, entry, PushIssue.NO_CALLBACK_URL)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "callback_url"
    # The scanner is on loopback: the routed address is 127.0.0.1.
    [field] = result["data_schema"].schema
    assert field.description["suggested_value"].startswith("http://127.0.0.1:")

    result = await submit(hass, result, "192.168.1.5:8123")
    assert result["errors"] == {CONF_CALLBACK_URL: "invalid_callback_url"}

    # The URL is checked: it reaches Home Assistant, the scanner subscribes with it,
    # and an event arrives through it (the scanner is paused while the check waits;
    # the wait is long, for a loaded machine: the event ends it).
    with patch("custom_components.wsd_scan.push.DELIVERY_WAIT", 60.0):
        configured = asyncio.create_task(submit(hass, result, callback_url))
        await until(lambda: len(status_subscriptions(scanner)) == 1)
        scanner.raise_condition("Paused")
        result = await configured
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # The check's own subscription is ended.
    assert status_subscriptions(scanner) == {}
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.options[CONF_CALLBACK_URL] == callback_url
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    # Reloaded with the URL: the scanner's events reach Home Assistant.
    scanner.clear_condition("Paused")
    await scanner.wait_for_notifications()
    coordinator = entry.runtime_data.coordinator
    await until(lambda: coordinator.push_state is PushState.WORKING)

    # Events that do not arrive later on: the fix starts from the URL set.
    coordinator._create_issue(PushIssue.CALLBACK_UNREACHABLE)  # noqa: SLF001
    result = await start_fix_flow(hass, entry, PushIssue.CALLBACK_UNREACHABLE)
    [field] = result["data_schema"].schema
    assert field.description["suggested_value"] == callback_url


async def test_no_route_to_the_scanner_suggests_nothing(
    hass: HomeAssistant, entry_without_url: MockConfigEntry
) -> None:
    """Without a route to the scanner the form is empty, for the user to fill in."""
    with patch.object(socket.socket, "connect", side_effect=OSError):
        result = await start_fix_flow(
            hass, entry_without_url, PushIssue.NO_CALLBACK_URL
        )
    [field] = result["data_schema"].schema
    assert field.description["suggested_value"] == ""


@pytest.fixture
async def fix_flow(
    hass: HomeAssistant, entry_without_url: MockConfigEntry
) -> dict[str, Any]:
    """Return the first form of the fix flow of a scanner without a callback URL."""
    return await start_fix_flow(hass, entry_without_url, PushIssue.NO_CALLBACK_URL)


async def test_a_url_elsewhere_is_refused(
    hass: HomeAssistant,
    fix_flow: dict[str, Any],
    closed_port: int,
    http_device: DeviceFactory,
) -> None:
    """A URL where nothing listens, or where another server answers, is not saved."""
    result = await submit(hass, fix_flow, f"http://127.0.0.1:{closed_port}")
    assert result["errors"] == {CONF_CALLBACK_URL: "callback_not_home_assistant"}
    assert f"127.0.0.1:{closed_port}" in result["description_placeholders"]["error"]

    async def other_server(_request: web.Request) -> web.Response:
        return web.Response(status=404)

    result = await submit(hass, result, await http_device(other_server))
    assert result["errors"] == {CONF_CALLBACK_URL: "callback_not_home_assistant"}
    assert "HTTP 404" in result["description_placeholders"]["error"]


async def test_a_refused_subscription_is_reported(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    fix_flow: dict[str, Any],
    callback_url: str,
) -> None:
    """The scanner refusing the subscription, or not answering, is told apart."""
    scanner.settings.subscription_slots = 0
    result = await submit(hass, fix_flow, callback_url)
    assert result["errors"] == {CONF_CALLBACK_URL: "subscription_refused"}
    assert "EventSourceUnableToProcess" in result["description_placeholders"]["error"]

    await scanner.set_online(False)
    result = await submit(hass, result, callback_url)
    assert result["errors"] == {CONF_CALLBACK_URL: "scanner_unreachable"}
    await scanner.set_online(True)


async def test_no_event_in_time_asks_for_confirmation(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    entry_without_url: MockConfigEntry,
    fix_flow: dict[str, Any],
    callback_url: str,
) -> None:
    """An accepted URL without an event in time is saved once the user confirms."""
    with (
        patch("custom_components.wsd_scan.repairs.DELIVERY_WAIT", 0.0),
        patch("custom_components.wsd_scan.push.DELIVERY_WAIT", 0.0),
    ):
        result = await submit(hass, fix_flow, callback_url)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "unconfirmed"
    assert result["description_placeholders"]["url"] == callback_url
    assert status_subscriptions(scanner) == {}

    flows = hass.data[REPAIRS_DOMAIN]["flow_manager"]
    result = await flows.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry_without_url.options[CONF_CALLBACK_URL] == callback_url
    await until(lambda: len(status_subscriptions(scanner)) == 1)


async def test_an_unloaded_scanner_aborts(
    hass: HomeAssistant,
    entry_without_url: MockConfigEntry,
    fix_flow: dict[str, Any],
    callback_url: str,
) -> None:
    """Unloaded meanwhile, the scanner cannot be checked: the flow stops."""
    assert await hass.config_entries.async_unload(entry_without_url.entry_id)
    result = await submit(hass, fix_flow, callback_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"
