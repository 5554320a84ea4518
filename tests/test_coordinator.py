"""Status by push, and the polling fallback with its repair issues."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any
from unittest.mock import AsyncMock
from uuid import uuid4

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import DEFAULT_POLL_INTERVAL, DOMAIN, NOTIFY_PATH
from custom_components.wsd_scan.coordinator import (
    LIVENESS_INTERVAL,
    STATUS_READ_EVERY,
    SUBSCRIPTION_LIFETIME,
    PushIssue,
    PushState,
)
from custom_components.wsd_scan.wsd import DiscoveryEventType, SubscriptionManager
from simulator import SimulatedScanner

from .ha_fixtures import (
    SetUpScanner,
    StartScanner,
    advance,
    announce,
    entity_id,
    scanner_entry,
    status_subscriptions,
    until,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: When the subscription manager renews (half the granted lifetime), plus a margin.
RENEWAL = timedelta(seconds=SUBSCRIPTION_LIFETIME / 2 + 1)
#: The next status poll while push does not work.
POLL = timedelta(seconds=DEFAULT_POLL_INTERVAL + 1)
#: The longest pause between Subscribe attempts.
SUBSCRIBE_RETRY = timedelta(seconds=301)


def issue_ids(issue_registry: ir.IssueRegistry, entry: MockConfigEntry) -> set[str]:
    """Return the keys of the entry's open repair issues."""
    return {
        issue.translation_key
        for (domain, issue_id), issue in issue_registry.issues.items()
        if domain == DOMAIN and issue_id.endswith(entry.entry_id)
    }


async def confirm_push(hass: HomeAssistant, scanner: SimulatedScanner) -> None:
    """Make the scanner notify once, so that push is known to work."""
    scanner.raise_condition("Paused")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_notifications_stop_polling(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Polling slows to a liveness check once the first notification arrives."""
    coordinator = loaded_entry.runtime_data.coordinator
    assert coordinator.update_interval == timedelta(seconds=DEFAULT_POLL_INTERVAL)

    await confirm_push(hass, scanner)

    assert coordinator.push_state is PushState.WORKING
    assert coordinator.update_interval == LIVENESS_INTERVAL


def status_reads(scanner: SimulatedScanner) -> int:
    """Return how many GetScannerElements requests the scanner answered."""
    return sum(
        1 for action, _ in scanner.requests if action.endswith("/GetScannerElements")
    )


async def test_working_push_asks_the_scanner_nothing(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """While notifications arrive, polls only connect; the status is read rarely."""
    await confirm_push(hass, scanner)
    reads = status_reads(scanner)
    state_id = entity_id(entity_registry, "sensor", scanner.uuid, "scanner_state")

    for _ in range(STATUS_READ_EVERY - 1):
        advance(hass, LIVENESS_INTERVAL)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert status_reads(scanner) == reads
    assert hass.states.get(state_id).state == "idle"

    advance(hass, LIVENESS_INTERVAL)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert status_reads(scanner) == reads + 1


async def test_a_silent_reboot_leads_to_resubscription(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    start_scanner: StartScanner,
    set_up_scanner: SetUpScanner,
) -> None:
    """Rebooted without a Hello, the scanner forgot us: the failed renewal tells."""
    scanner = await start_scanner("office_mfp", discovery=True)
    entry = await set_up_scanner(scanner)
    coordinator = entry.runtime_data.coordinator
    await confirm_push(hass, scanner)
    (before,) = status_subscriptions(scanner)

    session = async_get_clientsession(hass)
    async with session.post(
        f"{scanner.control_url}/reboot", json={"hello": False}
    ) as response:
        assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)
    assert scanner.subscriptions == {}

    advance(hass, RENEWAL)
    # The library's subscription task is not one of Home Assistant's: wait for the
    # coordinator to learn of the new subscription, not only for the scanner to have it.
    await until(
        lambda: (
            len(status_subscriptions(scanner)) == 1
            and coordinator.push_state is PushState.PENDING
        )
    )
    assert set(status_subscriptions(scanner)) != {before}
    await hass.async_block_till_done(wait_background_tasks=True)

    scanner.raise_condition("MediaJam")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done(wait_background_tasks=True)
    problem = entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")
    assert hass.states.get(problem).state == STATE_ON
    assert coordinator.push_state is PushState.WORKING


async def test_hello_of_a_rebooted_scanner_resubscribes_at_once(
    hass: HomeAssistant,
    loopback: AsyncMock,
    start_scanner: StartScanner,
    set_up_scanner: SetUpScanner,
) -> None:
    """The Hello of a reboot (new InstanceId), heard by discovery, resubscribes at once.

    The reboot dropped the scanner's subscriptions without a SubscriptionEnd; waiting
    for the next renewal would leave Home Assistant deaf for minutes.
    """
    scanner = await start_scanner("office_mfp", discovery=True)
    await set_up_scanner(scanner)
    (before,) = status_subscriptions(scanner)

    await scanner.reboot()

    await until(lambda: len(status_subscriptions(scanner)) == 1)
    assert set(status_subscriptions(scanner)) != {before}


async def test_only_the_scanners_own_hello_checks_its_subscriptions(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another device's Hello, and the scanner's Bye, leave its subscriptions alone."""
    checked: list[SubscriptionManager] = []
    monkeypatch.setattr(
        SubscriptionManager, "announced", lambda self, _: checked.append(self)
    )
    manager = loaded_entry.runtime_data.coordinator.manager

    announce(hass, scanner, uuid=str(uuid4()))
    announce(hass, scanner, DiscoveryEventType.BYE)
    assert checked == []
    announce(hass, scanner)
    # The status subscription and the panel's.
    assert checked == [manager, loaded_entry.runtime_data.panel.manager]


async def test_subscription_end_leads_to_resubscription(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """A scanner shutting down ends the subscription; it is renewed once it is back."""
    coordinator = loaded_entry.runtime_data.coordinator
    (before,) = status_subscriptions(scanner)
    await scanner.stop()
    # Told while shutting down, the coordinator tried at once, in vain.
    await until(lambda: coordinator.push_state is PushState.OFF)
    await scanner.start()
    await hass.async_block_till_done(wait_background_tasks=True)

    advance(hass, SUBSCRIBE_RETRY)
    await until(lambda: len(status_subscriptions(scanner)) == 1)
    assert before not in status_subscriptions(scanner)


async def test_unreachable_scanner_is_unavailable_until_it_returns(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The liveness check finds a vanished scanner within a minute; it comes back."""
    state_id = entity_id(entity_registry, "sensor", scanner.uuid, "scanner_state")
    await confirm_push(hass, scanner)
    caplog.set_level(logging.INFO)

    await scanner.set_online(False)
    assert timedelta(seconds=60) - timedelta(seconds=10) > LIVENESS_INTERVAL
    advance(hass, LIVENESS_INTERVAL)
    await until(lambda: hass.states.get(state_id).state == STATE_UNAVAILABLE)
    await hass.async_block_till_done(wait_background_tasks=True)

    await scanner.set_online(True)
    advance(hass, POLL)
    await until(lambda: hass.states.get(state_id).state == "idle")
    coordinator = loaded_entry.runtime_data.coordinator
    await until(lambda: coordinator.push_state is PushState.PENDING)

    went = [r for r in caplog.records if "Error fetching" in r.getMessage()]
    came = [r for r in caplog.records if "data recovered" in r.getMessage()]
    assert (len(went), len(came)) == (1, 1)
    assert "does not answer" in went[0].getMessage()


async def test_refused_subscription_polls_and_raises_an_issue(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    scanner: SimulatedScanner,
    callback_url: str,
    set_up_scanner: SetUpScanner,
) -> None:
    """A refusal means polling and a repair issue, until the scanner accepts."""
    scanner.settings.subscription_slots = 0
    entry = await set_up_scanner(scanner)
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = entry.runtime_data.coordinator

    assert coordinator.push_state is PushState.OFF
    assert issue_ids(issue_registry, entry) == {PushIssue.SUBSCRIPTION_REFUSED}
    issue = issue_registry.async_get_issue(
        DOMAIN, f"{PushIssue.SUBSCRIPTION_REFUSED}_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["url"] == callback_url + NOTIFY_PATH
    assert "EventSourceUnableToProcess" in issue.translation_placeholders["error"]

    scanner.raise_condition("MediaJam")
    advance(hass, POLL)
    await hass.async_block_till_done(wait_background_tasks=True)
    problem = entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")
    assert hass.states.get(problem).state == STATE_ON

    scanner.settings.subscription_slots = None
    # Retries back off; a Hello retries at once.
    announce(hass, scanner)
    # The poll above also fired the manager's back-off timer, so a retry may still be
    # under way when the resubscribe is asked for: wait for the settled state.
    await until(
        lambda: (
            coordinator.push_state is PushState.PENDING
            and len(status_subscriptions(scanner)) == 1
        )
    )
    assert issue_ids(issue_registry, entry) == set()


async def test_undelivered_notifications_raise_an_issue_until_they_arrive(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A status change seen by polling but never notified: the URL is unreachable."""

    async def unreachable(*_args: Any) -> int:
        raise ConnectionRefusedError("firewall")

    monkeypatch.setattr(scanner.events, "_post", unreachable)
    scanner.raise_condition("MediaJam")
    await scanner.wait_for_notifications()
    assert status_subscriptions(scanner) == {}  # the scanner gave up on it

    advance(hass, POLL)
    await hass.async_block_till_done(wait_background_tasks=True)
    problem = entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")
    assert hass.states.get(problem).state == STATE_ON
    assert issue_ids(issue_registry, loaded_entry) == {PushIssue.CALLBACK_UNREACHABLE}

    monkeypatch.undo()
    advance(hass, RENEWAL)
    await until(lambda: len(status_subscriptions(scanner)) == 1)
    scanner.clear_condition("MediaJam")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(problem).state == STATE_OFF
    assert issue_ids(issue_registry, loaded_entry) == set()


async def test_without_a_callback_url_polls_and_raises_an_issue(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    scanner: SimulatedScanner,
    entry_without_url: MockConfigEntry,
) -> None:
    """No URL for Home Assistant: no subscription, polling, an issue until unload."""
    entry = entry_without_url

    assert scanner.subscriptions == {}
    assert issue_ids(issue_registry, entry) == {PushIssue.NO_CALLBACK_URL}
    scanner.raise_condition("CoverOpen")
    advance(hass, POLL)
    await hass.async_block_till_done(wait_background_tasks=True)
    problem = entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")
    assert hass.states.get(problem).state == STATE_ON

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue_ids(issue_registry, entry) == set()


async def test_home_assistant_url_is_the_default_callback(
    hass: HomeAssistant, scanner: SimulatedScanner, callback_url: str
) -> None:
    """Without the option, the scanner is told Home Assistant's local URL."""
    await hass.config.async_update(internal_url="http://192.0.2.10:8123")
    entry = scanner_entry(scanner)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    (subscription,) = status_subscriptions(scanner).values()
    assert subscription.notify_to.startswith(f"http://192.0.2.10:8123{NOTIFY_PATH}/")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_configuration_change_keeps_the_status(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """ScannerElementsChangeEvent without a status section leaves the status alone."""
    scanner.raise_condition("MediaJam")
    scanner.set_scanner_name("Renamed at the panel")
    await scanner.wait_for_notifications()
    await hass.async_block_till_done()

    problem = entity_id(entity_registry, "binary_sensor", scanner.uuid, "problem")
    assert hass.states.get(problem).state == STATE_ON
    assert hass.states.get(problem).attributes["conditions"] == ["media_jam"]
