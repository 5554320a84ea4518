"""The WSD Scan integration: network scanners that speak WSD (Web Services on Devices)."""

from __future__ import annotations

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN
from .coordinator import WsdScanCoordinator
from .discovery import async_setup_discovery
from .dsp_view import async_setup_dsp_view, async_setup_receiver
from .frontend import async_setup_frontend
from .media_source import ScanFileView
from .migration import async_migrate
from .models import WsdScanConfigEntry, WsdScanRuntimeData
from .notification_view import async_setup_notify_view
from .panel import PanelScans
from .paperless import PaperlessTarget
from .post_scan import PostScanTarget
from .profiles import entry_profiles
from .push import Push
from .runner import ScanActivity, ScanRunner
from .scan_notification import ScanNotifier
from .services import async_setup_services
from .storage import ScanStorage, async_remove_leftover_work

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SENSOR,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up what every scanner shares: endpoints, actions, the card and discovery."""
    async_setup_notify_view(hass)
    async_setup_dsp_view(hass)
    hass.http.register_view(ScanFileView())
    async_setup_services(hass)
    await async_setup_frontend(hass)
    await async_remove_leftover_work(hass)
    await async_setup_discovery(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Describe the scanner, read its status, subscribe to its events."""
    # Changed options or profiles (subentries, which have no flow of their own to
    # reload when one is deleted) take effect by a reload. Listening from the start: a
    # change made while this setup runs reloads once it is done.
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    push = Push(hass, entry)
    entry.async_on_unload(push.async_start())
    activity = ScanActivity()
    coordinator = WsdScanCoordinator(
        hass, entry, push, on_job_event=activity.async_job_event
    )
    await coordinator.async_config_entry_first_refresh()
    device = coordinator.device
    storage = ScanStorage(
        hass, device_name=device.name, scanner=entry.unique_id or device.uuid
    )
    activity.async_scan_stored(await storage.async_latest())
    runner = ScanRunner(
        hass,
        device.name,
        coordinator.scan_client,
        storage,
        coordinator.elements.capabilities,
        status=lambda: coordinator.data,
        observer=activity,
        notifier=ScanNotifier(hass, entry),
        post_scan=PostScanTarget.from_options(
            hass, entry.entry_id, device.name, entry.options
        ),
        paperless=PaperlessTarget.from_options(
            hass, entry.entry_id, device.name, entry.options
        ),
    )
    panel = PanelScans(hass, entry, push, runner, entry_profiles(entry))
    entry.runtime_data = WsdScanRuntimeData(
        device,
        coordinator.elements,
        coordinator.scan_client,
        coordinator,
        activity,
        runner,
        push,
        panel,
    )
    # A scan still running stops (its pages are kept) when the entry goes; an open
    # session stays on disk and is taken up again.
    entry.async_on_unload(runner.async_cancel)
    entry.async_on_unload(runner.async_shutdown)
    await runner.async_resume_sessions()
    await async_setup_receiver(hass, entry, storage, activity.async_scan_stored)
    await coordinator.async_start_push()
    await panel.async_start(coordinator.scan_client)
    entry.async_on_unload(panel.async_stop)

    async def _unsubscribe_on_stop(_event: Event) -> None:
        await panel.async_stop()
        await coordinator.async_shutdown()

    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _unsubscribe_on_stop)
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_reload(hass: HomeAssistant, entry: WsdScanConfigEntry) -> None:
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_migrate_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Bring an entry stored by an older release to the current layout."""
    return async_migrate(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Unload a config entry (the coordinator's shutdown unsubscribes)."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
