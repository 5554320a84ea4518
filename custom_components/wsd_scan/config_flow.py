"""Config flow for WSD Scan: find a scanner, confirm it, keep its address current.

Every path ends at the same identity: the entry's unique id is the scanner's normalised
endpoint UUID, whether the scanner was picked from a WS-Discovery probe (`user`), typed in
(`manual`, `reconfigure`), announced over mDNS (`zeroconf`) or heard in the background
(`integration_discovery`, see discovery.py). A known scanner found at a new address gets
its entry's host and XAddrs updated, which reloads the entry.

Entry data: `CONF_HOST` is how the scanner was reached (a host, `host:port` or a device
URL; a directed probe or a Get works on it) and `CONF_XADDRS` its transport addresses,
best first. A new entry starts with the default panel profile. Options and profiles are
changed in options_flow.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection
import logging
from typing import Any, Final, override

import aiohttp
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.helpers.typing import DiscoveryInfoType
import probatio
import yarl

from . import discovery, migration, wsd
from .const import CONF_XADDRS, DOMAIN
from .options_flow import ProfileSubentryFlow, WsdScanOptionsFlow
from .profiles import SUBENTRY_PROFILE, default_profile
from .wsd.discovery import directed_probe_url, same_host, url_host
from .wsd.models import normalize_uuid

_LOGGER = logging.getLogger(__name__)

#: Listening window of the user step's WS-Discovery probe (someone is waiting).
DISCOVERY_TIMEOUT: Final = 3.0
#: Time for one directed probe or one metadata Get (per address) while the flow runs.
REQUEST_TIMEOUT: Final = 5.0
#: Ports a host found by zeroconf is asked on (directed probe): the well-known endpoint on
#: 80 first (Canon, Epson), then the port mDNS advertised, then where WSD servers are known
#: to listen: 5357 (Windows WSDAPI), 5358 (Kyocera ECOSYS M2040dn), 8018 (HP Laser MFP
#: 1188w, which mDNS does not announce; Samsung SL-M2070).
PROBE_PORTS: Final = (80, 5357, 5358, 8018)

#: The user step's choice that leads to the manual step instead of a discovered scanner.
MANUAL: Final = "manual"

HOST_SCHEMA: Final = probatio.Schema({probatio.Required(CONF_HOST): str})


def _label(found: wsd.FoundScanner) -> str:
    """Return how the user's list shows a probed scanner: name and address."""
    host = discovery.discovered_host(found.device)
    return host if found.info is None else f"{found.info.name} ({host})"


def _reason(err: wsd.WsdError) -> str:
    """Map a library error to what the user is told."""
    if err.kind is wsd.ErrorKind.INVALID_ARGUMENT:
        return "invalid_host"
    if err.kind in (wsd.ErrorKind.UNREACHABLE, wsd.ErrorKind.TIMEOUT):
        return "cannot_connect"
    return "not_wsd_scanner"  # it answered, but not as a WSD scanner does


def _host_part(target: str) -> str | None:
    """Return the host of a host, `host:port` or URL; None when it is none of those."""
    try:
        return url_host(directed_probe_url(target))
    except wsd.WsdError:
        return None


def _moved(old: str, host: str) -> str:
    """Return `old` (host, `host:port` or URL) with its host replaced by `host`.

    An entry keeps the form it was configured with: a port or device path the user
    entered still holds after the scanner got a new address.
    """
    try:
        url = yarl.URL(directed_probe_url(old)).with_host(host)
    except wsd.WsdError:  # the entry had no usable host
        return host
    return str(url) if "://" in old else url.raw_authority


def _address_updates(
    entry: ConfigEntry | None, host: str, xaddrs: tuple[str, ...]
) -> dict[str, Any] | None:
    """Return the entry data that changed now that the scanner answered at `host`.

    Nothing when the host part and the set of XAddrs are the same (their order may vary
    from one answer to the next; that is no reason to reload).
    """
    if entry is None or entry.source == SOURCE_IGNORE:
        return None
    updates: dict[str, Any] = {}
    old = str(entry.data.get(CONF_HOST) or "")
    new_host = _host_part(host) or host
    if not same_host(_host_part(old), new_host):
        updates[CONF_HOST] = _moved(old, new_host)
    if set(entry.data.get(CONF_XADDRS) or ()) != set(xaddrs):
        updates[CONF_XADDRS] = list(xaddrs)
    return updates or None


def _reloads_itself(entry: ConfigEntry | None) -> bool:
    """Whether a change to `entry` reloads it (a loaded entry's update listener does)."""
    return entry is not None and entry.state is ConfigEntryState.LOADED


def _model(info: wsd.DeviceInfo) -> str:
    """Manufacturer and model for the UI, without repeating the manufacturer."""
    manufacturer, model = info.manufacturer, info.model
    if manufacturer and model and model.lower().startswith(manufacturer.lower()):
        manufacturer = None
    return " ".join(part for part in (manufacturer, model) if part) or info.name


def _scanner(located: wsd.LocatedDevice) -> wsd.LocatedDevice:
    """Return `located` if it hosts a scan service (a printer or scan server does not)."""
    if located.info.scan_service_url is None:
        raise wsd.WsdError(
            wsd.ErrorKind.UNSUPPORTED, f"{located.info.name} has no scan service"
        )
    return located


async def _async_locate_scanner(
    session: aiohttp.ClientSession, target: str, ports: Collection[int] = ()
) -> wsd.LocatedDevice:
    """Find the scanner behind a host, `host:port` or device URL."""
    return _scanner(
        await wsd.locate(session, target, ports=ports, timeout=REQUEST_TIMEOUT)
    )


async def _async_describe(
    session: aiohttp.ClientSession, host: str, uuid: str, xaddrs: tuple[str, ...]
) -> wsd.LocatedDevice:
    """Read the metadata of a device WS-Discovery found; it must be a scanner."""
    info = await wsd.get_device_info(session, uuid, xaddrs, timeout=REQUEST_TIMEOUT)
    return _scanner(wsd.LocatedDevice(host, xaddrs, info))


async def _async_attempt[T](work: Awaitable[T]) -> tuple[T | None, str | None]:
    """Run `work`; return its result, or the translation key of why it failed."""
    try:
        return await work, None
    except wsd.WsdError as err:
        _LOGGER.debug("No WSD scanner: %s", err)
        return None, _reason(err)
    except Exception:
        _LOGGER.exception("Unexpected error while talking to the scanner")
        return None, "unknown"


class WsdScanConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a WSD scanner."""

    VERSION = migration.VERSION
    MINOR_VERSION = migration.MINOR_VERSION

    def __init__(self) -> None:
        """Start with nothing found."""
        self._discovered: dict[str, wsd.FoundScanner] = {}
        self._scanner: wsd.LocatedDevice | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> WsdScanOptionsFlow:
        """Return the options flow."""
        return WsdScanOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Panel profiles are subentries."""
        return {SUBENTRY_PROFILE: ProfileSubentryFlow}

    @property
    def _session(self) -> aiohttp.ClientSession:
        return async_get_clientsession(self.hass)

    # --- user: pick a scanner found by WS-Discovery, or enter a host -------------------

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """List the scanners WS-Discovery finds, plus the choice to enter a host."""
        if user_input is None:
            await self._async_discover()
            if not self._discovered:
                return await self.async_step_manual()
            return self._async_show_user_form()
        choice = user_input[CONF_DEVICE]
        if choice == MANUAL:
            return await self.async_step_manual()
        found = self._discovered[choice]
        await self.async_set_unique_id(choice, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        device, host = found.device, discovery.discovered_host(found.device)
        if found.info is not None:
            self._scanner = wsd.LocatedDevice(host, device.xaddrs, found.info)
            return await self.async_step_confirm()
        scanner, reason = await _async_attempt(
            _async_describe(self._session, host, device.uuid, device.xaddrs)
        )
        if scanner is None:
            return self._async_show_user_form({"base": str(reason)})
        self._scanner = scanner
        return await self.async_step_confirm()

    async def _async_discover(self) -> None:
        """Probe on Home Assistant's adapters for scanners without an entry."""
        self._discovered = {}
        interfaces = await discovery.async_get_interfaces(self.hass)
        if not interfaces:
            return
        try:
            found = await wsd.find_scanners(
                self._session,
                interfaces,
                timeout=DISCOVERY_TIMEOUT,
                describe_timeout=REQUEST_TIMEOUT,
                exclude={
                    uuid
                    for uuid in self._async_current_ids(include_ignore=False)
                    if uuid is not None
                },
                multicast=discovery.get_multicast(),
            )
        except wsd.WsdError as err:
            _LOGGER.debug("WS-Discovery probe on %s failed: %s", interfaces, err)
            return
        self._discovered = {scanner.device.uuid: scanner for scanner in found}

    @callback
    def _async_show_user_form(
        self, errors: dict[str, str] | None = None
    ) -> ConfigFlowResult:
        options = sorted(
            (
                SelectOptionDict(value=uuid, label=_label(found))
                for uuid, found in self._discovered.items()
            ),
            key=lambda option: option["label"].lower(),
        )
        # Labelled by the translation (selector.device.options.manual); this is its fallback.
        options.append(SelectOptionDict(value=MANUAL, label="Enter a host"))
        schema = probatio.Schema(
            {
                probatio.Required(CONF_DEVICE): SelectSelector(
                    SelectSelectorConfig(
                        options=options,
                        translation_key=CONF_DEVICE,
                        mode=SelectSelectorMode.LIST,
                    )
                )
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a scanner by host, `host:port` or device URL."""
        return await self._async_step_host("manual", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host of a configured scanner; it must stay the same device."""
        return await self._async_step_host("reconfigure", user_input)

    async def _async_step_host(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Ask for a host and find the scanner there (a new one, or the same again)."""
        entry = self._get_reconfigure_entry() if step_id == "reconfigure" else None
        errors: dict[str, str] = {}
        if user_input is not None:
            scanner, reason = await _async_attempt(
                _async_locate_scanner(self._session, user_input[CONF_HOST])
            )
            if scanner is not None:
                await self.async_set_unique_id(
                    scanner.info.uuid, raise_on_progress=False
                )
                if entry is None:
                    self._abort_if_unique_id_configured()
                    self._scanner = scanner
                    return await self.async_step_confirm()
                self._abort_if_unique_id_mismatch()
                updates = {CONF_HOST: scanner.address, CONF_XADDRS: [*scanner.xaddrs]}
                if _reloads_itself(entry):
                    return self.async_update_and_abort(entry, data_updates=updates)
                return self.async_update_reload_and_abort(entry, data_updates=updates)
            errors[CONF_HOST if reason == "invalid_host" else "base"] = str(reason)
        shown = user_input
        if shown is None and entry is not None:
            shown = {CONF_HOST: entry.data.get(CONF_HOST)}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(HOST_SCHEMA, shown),
            errors=errors,
            description_placeholders=None if entry is None else {"name": entry.title},
        )

    # --- discovery: zeroconf and our own WS-Discovery -----------------------------------

    @override
    async def async_step_zeroconf(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """Offer a scanner announced over mDNS once a directed probe confirms WSD."""
        host = discovery_info.host
        self._async_abort_known_host(host)
        ports = (PROBE_PORTS[0], discovery_info.port, *PROBE_PORTS[1:])
        scanner, reason = await _async_attempt(
            _async_locate_scanner(
                self._session, host, [port for port in ports if port is not None]
            )
        )
        if scanner is None:
            return self.async_abort(reason=str(reason))
        await self._async_abort_if_known(scanner.info.uuid, host, scanner.xaddrs)
        return await self._async_confirm_discovered(scanner)

    @override
    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """Offer a scanner heard by WS-Discovery (discovery.py)."""
        host: str = discovery_info["host"]
        uuid = normalize_uuid(discovery_info["uuid"])
        xaddrs = tuple(discovery_info["xaddrs"])
        await self._async_abort_if_known(uuid, host, xaddrs)
        scanner, reason = await _async_attempt(
            _async_describe(self._session, host, uuid, xaddrs)
        )
        if scanner is None:
            return self.async_abort(reason=str(reason))
        return await self._async_confirm_discovered(scanner)

    @callback
    def _async_abort_known_host(self, host: str) -> None:
        """Abort before probing a host an entry already uses (mDNS repeats itself)."""
        for entry in self._async_current_entries(include_ignore=False):
            if same_host(_host_part(str(entry.data.get(CONF_HOST) or "")), host):
                if entry.state is ConfigEntryState.SETUP_RETRY:  # it is back
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
                raise AbortFlow("already_configured")

    async def _async_abort_if_known(
        self, uuid: str, host: str, xaddrs: tuple[str, ...]
    ) -> None:
        """Abort for a known scanner, updating its address when it moved."""
        entry = await self.async_set_unique_id(uuid)
        self._abort_if_unique_id_configured(
            updates=_address_updates(entry, host, xaddrs),
            reload_on_update=not _reloads_itself(entry),
        )

    async def _async_confirm_discovered(
        self, scanner: wsd.LocatedDevice
    ) -> ConfigFlowResult:
        self._scanner = scanner
        self._set_confirm_only()
        return await self.async_step_confirm()

    # --- confirm -----------------------------------------------------------------------

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show who the scanner is; add it."""
        scanner = self._scanner
        assert scanner is not None
        info = scanner.info
        if user_input is not None:
            return self.async_create_entry(
                title=info.name,
                data={CONF_HOST: scanner.address, CONF_XADDRS: list(scanner.xaddrs)},
                subentries=[default_profile().as_dict()],
            )
        self.context["title_placeholders"] = {"name": info.name}
        return self.async_show_form(
            step_id="confirm",
            description_placeholders={
                "name": info.name,
                "model": _model(info),
                "host": scanner.address,
            },
        )
