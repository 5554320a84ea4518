"""The WSD Scan integration: network scanners that speak WSD (Web Services on Devices)."""

from __future__ import annotations

from homeassistant.const import CONF_HOST, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.typing import ConfigType

from .const import CONF_XADDRS, DOMAIN
from .coordinator import (
    WsdScanConfigEntry,
    WsdScanCoordinator,
    WsdScanRuntimeData,
    hosts_of,
)
from .discovery import SIGNAL_DISCOVERY_EVENT, async_setup_discovery
from .dsp_view import async_setup_dsp_view, async_setup_receiver
from .media_source import ScanFileView
from .migration import async_migrate
from .notification_view import NOTIFICATION_HANDLER, async_setup_notify_view
from .panel import PanelScans
from .post_scan import PostScanTarget
from .profiles import entry_profiles
from .runner import ScanRunner
from .services import async_setup_services
from .storage import ScanStorage, async_remove_leftover_work
from .wsd import DiscoveryEvent, ScanClient, WsdError, get_device_info, quirks_for

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SENSOR,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up what every scanner shares: endpoints, actions and discovery."""
    async_setup_notify_view(hass)
    async_setup_dsp_view(hass)
    hass.http.register_view(ScanFileView())
    async_setup_services(hass)
    await async_remove_leftover_work(hass)
    await async_setup_discovery(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Describe the scanner, read its status, subscribe to its events."""
    host: str = entry.data[CONF_HOST]
    xaddrs: list[str] = entry.data[CONF_XADDRS]
    session = async_get_clientsession(hass)
    try:
        device = await get_device_info(session, entry.unique_id or xaddrs[0], xaddrs)
    except WsdError as err:
        raise _not_ready(host, err) from err
    if device.scan_service_url is None:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="no_scan_service",
            translation_placeholders={"host": host},
        )
    scan_client = ScanClient(
        session,
        device.scan_service_url,
        quirks=quirks_for(device.manufacturer, device.model),
    )
    try:
        elements = await scan_client.get_elements()
        status = elements.status or await scan_client.get_status()
    except WsdError as err:
        raise _not_ready(host, err) from err
    storage = ScanStorage(
        hass, device_name=device.name, scanner=entry.unique_id or device.uuid
    )
    coordinator = WsdScanCoordinator(
        hass,
        entry,
        device=device,
        scan_client=scan_client,
        status=status,
        handler=hass.data[NOTIFICATION_HANDLER],
        device_hosts=hosts_of([*xaddrs, device.scan_service_url]),
        last_scan=await storage.async_latest(),
    )
    runner = ScanRunner(
        hass,
        coordinator,
        scan_client,
        storage,
        elements.capabilities,
        post_scan=PostScanTarget.from_options(
            hass, entry.entry_id, device.name, entry.options
        ),
    )
    panel = PanelScans(hass, entry, coordinator, runner, entry_profiles(entry))
    entry.runtime_data = WsdScanRuntimeData(
        device, elements, scan_client, coordinator, runner, panel
    )
    # A scan still running stops (its pages are kept) when the entry goes.
    entry.async_on_unload(runner.async_cancel)
    await async_setup_receiver(hass, entry, storage, coordinator.async_scan_stored)
    await coordinator.async_start_push()
    await panel.async_start(hass.data[NOTIFICATION_HANDLER])
    entry.async_on_unload(panel.async_stop)

    @callback
    def _resubscribe_after_reboot(event: DiscoveryEvent) -> None:
        # A Hello with a new AppSequence InstanceId: the scanner lost its subscriptions.
        if event.rebooted and event.device.uuid == entry.unique_id:
            coordinator.async_resubscribe()
            panel.async_resubscribe()

    entry.async_on_unload(
        async_dispatcher_connect(
            hass, SIGNAL_DISCOVERY_EVENT, _resubscribe_after_reboot
        )
    )

    async def _unsubscribe_on_stop(_event: Event) -> None:
        await panel.async_stop()
        await coordinator.async_shutdown()

    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _unsubscribe_on_stop)
    )
    # Changed options or profiles (subentries, which have no flow of their own to
    # reload when one is deleted) take effect by a reload.
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_reload(hass: HomeAssistant, entry: WsdScanConfigEntry) -> None:
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_migrate_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Bring an entry stored by an older release to the current layout."""
    return async_migrate(hass, entry)


def _not_ready(host: str, err: WsdError) -> ConfigEntryNotReady:
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="cannot_connect",
        translation_placeholders={"host": host, "error": str(err)},
    )


async def async_unload_entry(hass: HomeAssistant, entry: WsdScanConfigEntry) -> bool:
    """Unload a config entry (the coordinator's shutdown unsubscribes)."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
