"""Config flow for WSD Scan: find a scanner, confirm it, keep its address current.

Every path ends at the same identity: the entry's unique id is the scanner's normalised
endpoint UUID, whether the scanner was picked from a WS-Discovery probe (`user`), typed in
(`manual`, `reconfigure`), announced over mDNS (`zeroconf`) or heard in the background
(`integration_discovery`, see discovery.py). A known scanner found at a new address gets
its entry's host and XAddrs updated, which reloads the entry.

Entry data: `CONF_HOST` is how the scanner was reached (a host, `host:port` or a device
URL; a directed probe or a Get works on it) and `CONF_XADDRS` its transport addresses,
best first. Options are stored flat under the `CONF_*` keys of const.py; the callback URL
is absent unless set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Mapping
from functools import partial
import logging
from typing import Any, Final, override

import aiohttp
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import AbortFlow, section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.helpers.typing import DiscoveryInfoType
import probatio
import yarl

from . import discovery, migration, wsd
from .const import (
    CONF_CA_FILE,
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_DESTINATION,
    CONF_DOCUMENT_ROOT,
    CONF_ENDPOINT,
    CONF_FILTERS,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_POLL_INTERVAL,
    CONF_POST_SCAN,
    CONF_RESOLUTION,
    CONF_SCAN_PROCESS_ID,
    CONF_SOURCE,
    CONF_USER_IDENTIFIER,
    CONF_VERIFY_TLS,
    CONF_XADDRS,
    DEFAULT_COLOR,
    DEFAULT_FORMAT,
    DEFAULT_PAPER,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RESOLUTION,
    DEFAULT_SOURCE,
    DOMAIN,
    Destination,
)
from .post_scan import post_scan_settings, tls_setting
from .profiles import (
    MAX_PROFILE_NAME,
    SETTINGS_KEYS,
    SUBENTRY_PROFILE,
    default_profile,
    entry_profiles,
    profile_settings,
)
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
SECTION_ADVANCED: Final = "advanced"

SOURCES: Final = [str(source) for source in wsd.ScanSource]
FORMATS: Final = [str(document_format) for document_format in wsd.DocumentFormat]
COLORS: Final = [str(color) for color in wsd.ColorMode]
PAPERS: Final = ["a4", "letter", "legal", "a5", "max"]
RESOLUTIONS: Final = ["75", "100", "150", "200", "300", "600", "1200"]
MIN_POLL_INTERVAL: Final = 10
MAX_POLL_INTERVAL: Final = 3600

HOST_SCHEMA: Final = probatio.Schema({probatio.Required(CONF_HOST): str})


def _select(options: list[str], key: str) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=options, translation_key=key, mode=SelectSelectorMode.DROPDOWN
        )
    )


#: The scan settings, as the options and each profile offer them.
SETTINGS_FIELDS: Final = {
    probatio.Required(CONF_SOURCE, default=DEFAULT_SOURCE): _select(
        SOURCES, CONF_SOURCE
    ),
    probatio.Required(CONF_FORMAT, default=DEFAULT_FORMAT): _select(
        FORMATS, CONF_FORMAT
    ),
    probatio.Required(CONF_RESOLUTION, default=str(DEFAULT_RESOLUTION)): _select(
        RESOLUTIONS, CONF_RESOLUTION
    ),
    probatio.Required(CONF_COLOR, default=DEFAULT_COLOR): _select(COLORS, CONF_COLOR),
    probatio.Required(CONF_PAPER, default=DEFAULT_PAPER): _select(PAPERS, CONF_PAPER),
}

DESTINATIONS: Final = [str(destination) for destination in Destination]

PROFILE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        **SETTINGS_FIELDS,
        probatio.Required(CONF_DESTINATION, default=Destination.MEDIA.value): _select(
            DESTINATIONS, CONF_DESTINATION
        ),
    }
)

POST_SCAN_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_ENDPOINT): TextSelector(),
        probatio.Optional(CONF_USER_IDENTIFIER): TextSelector(),
        probatio.Optional(CONF_SCAN_PROCESS_ID): TextSelector(),
        probatio.Optional(CONF_DOCUMENT_ROOT): TextSelector(),
        probatio.Optional(CONF_FILTERS): TextSelector(
            TextSelectorConfig(multiline=True, multiple=True)
        ),
        probatio.Optional(CONF_CA_FILE): TextSelector(),
        probatio.Required(CONF_VERIFY_TLS, default=True): BooleanSelector(),
    }
)

OPTIONS_SCHEMA: Final = probatio.Schema(
    {
        **SETTINGS_FIELDS,
        probatio.Required(SECTION_ADVANCED): section(
            probatio.Schema(
                {
                    probatio.Required(
                        CONF_POLL_INTERVAL, default=DEFAULT_POLL_INTERVAL
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=MIN_POLL_INTERVAL,
                            max=MAX_POLL_INTERVAL,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="s",
                        )
                    ),
                    probatio.Optional(CONF_CALLBACK_URL): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.URL)
                    ),
                }
            ),
            {"collapsed": True},
        ),
    }
)


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


def _callback_url(value: str) -> str | None:
    """Return the normalised callback base URL; None unless it is an http(s) URL."""
    try:
        url = yarl.URL(value.strip())
        valid = url.scheme in ("http", "https") and bool(url.host)
    except ValueError:
        return None
    if not valid or url.query_string or url.fragment:
        return None
    return str(url).rstrip("/")


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


class WsdScanOptionsFlow(OptionsFlow):
    """Default scan settings, the polling fallback, the callback URL, post-scan.

    Each step merges what it edits into the stored options; the entry's update listener
    reloads it.
    """

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer what can be changed."""
        return self.async_show_menu(
            step_id="init", menu_options=["settings", "post_scan"]
        )

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the default settings."""
        errors: dict[str, str] = {}
        if user_input is not None:
            advanced = user_input[SECTION_ADVANCED]
            options: dict[str, Any] = {
                **self.config_entry.options,
                **_settings(user_input),
                CONF_POLL_INTERVAL: int(advanced[CONF_POLL_INTERVAL]),
            }
            options.pop(CONF_CALLBACK_URL, None)
            if raw_url := (advanced.get(CONF_CALLBACK_URL) or "").strip():
                if (url := _callback_url(raw_url)) is None:
                    errors["base"] = "invalid_callback_url"
                else:
                    options[CONF_CALLBACK_URL] = url
            if not errors:
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, user_input or _sectioned(self.config_entry.options)
            ),
            errors=errors,
        )

    async def async_step_post_scan(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the post-scan endpoint (no endpoint: none)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            config = _post_scan_config(user_input)
            options = dict(self.config_entry.options)
            if CONF_ENDPOINT not in config:
                options.pop(CONF_POST_SCAN, None)
                return self.async_create_entry(data=options)
            errors = await _post_scan_errors(self.hass, config)
            if not errors:
                return self.async_create_entry(data={**options, CONF_POST_SCAN: config})
        return self.async_show_form(
            step_id="post_scan",
            data_schema=self.add_suggested_values_to_schema(
                POST_SCAN_SCHEMA,
                user_input or self.config_entry.options.get(CONF_POST_SCAN, {}),
            ),
            errors=errors,
        )


class ProfileSubentryFlow(ConfigSubentryFlow):
    """Add or change a panel profile (HA's subentry UI deletes one)."""

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Add a profile."""
        return await self._async_step_profile("user", None, user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a profile; its subentry id (the panel's ClientContext) stays."""
        return await self._async_step_profile(
            "reconfigure", self._get_reconfigure_subentry(), user_input
        )

    async def _async_step_profile(
        self,
        step_id: str,
        current: ConfigSubentry | None,
        user_input: dict[str, Any] | None,
    ) -> SubentryFlowResult:
        """Show and save one profile: its name on the panel and its scan settings."""
        entry = self._get_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            others = [
                profile.name
                for profile in entry_profiles(entry)
                if current is None or profile.profile_id != current.subentry_id
            ]
            if not name or len(name) > MAX_PROFILE_NAME:
                errors[CONF_NAME] = "invalid_profile_name"
            elif any(other.casefold() == name.casefold() for other in others):
                errors[CONF_NAME] = "duplicate_profile_name"
            else:
                data = {
                    **_settings(user_input),
                    CONF_DESTINATION: user_input[CONF_DESTINATION],
                }
                if current is None:
                    return self.async_create_entry(title=name, data=data)
                return self.async_update_and_abort(
                    entry, current, title=name, data=data
                )
        shown = user_input
        if shown is None and current is not None:
            shown = {
                **_as_shown({**profile_settings(entry, current.data), **current.data}),
                CONF_NAME: current.title,
            }
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(PROFILE_SCHEMA, shown),
            errors=errors,
        )


def _post_scan_config(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the post-scan form was given: trimmed, empty fields left out."""
    config = {
        key: value.strip() if isinstance(value, str) else value
        for key, value in user_input.items()
        if key != CONF_FILTERS
    }
    config = {key: value for key, value in config.items() if value != ""}
    if filters := [
        entry for entry in user_input.get(CONF_FILTERS, []) if entry.strip()
    ]:
        config[CONF_FILTERS] = filters
    return config


async def _post_scan_errors(
    hass: HomeAssistant, config: Mapping[str, Any]
) -> dict[str, str]:
    """Check a post-scan configuration; return the form's errors."""
    if not _post_scan_endpoint_valid(config[CONF_ENDPOINT]):
        return {CONF_ENDPOINT: "invalid_endpoint"}
    try:
        post_scan_settings(config, "scan")
    except wsd.WsdError:
        return {CONF_FILTERS: "invalid_filter"}
    try:
        await hass.async_add_executor_job(partial(tls_setting, config))
    except wsd.WsdError:
        return {CONF_CA_FILE: "invalid_ca_file"}
    return {}


def _post_scan_endpoint_valid(value: str) -> bool:
    """Whether `value` is an http(s) URL, or a host the directed probe can ask."""
    if "://" in value:
        return _callback_url(value) is not None
    try:
        directed_probe_url(value)
    except wsd.WsdError:
        return False
    return True


def _settings(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the scan settings of a submitted form, as stored."""
    return {
        CONF_SOURCE: user_input[CONF_SOURCE],
        CONF_FORMAT: user_input[CONF_FORMAT],
        CONF_RESOLUTION: int(user_input[CONF_RESOLUTION]),
        CONF_COLOR: user_input[CONF_COLOR],
        CONF_PAPER: user_input[CONF_PAPER],
    }


def _as_shown(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Return stored settings as the forms show them (a resolution is a choice of text)."""
    shown = dict(stored)
    if CONF_RESOLUTION in shown:
        shown[CONF_RESOLUTION] = str(shown[CONF_RESOLUTION])
    return shown


def _sectioned(options: Mapping[str, Any]) -> dict[str, Any]:
    """Turn stored (flat) options into the form's shape."""
    shown = _as_shown({key: options[key] for key in SETTINGS_KEYS if key in options})
    shown[SECTION_ADVANCED] = {
        key: options[key]
        for key in (CONF_POLL_INTERVAL, CONF_CALLBACK_URL)
        if key in options
    }
    return shown
