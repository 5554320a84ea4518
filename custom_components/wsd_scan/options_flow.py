"""Changing a configured scanner: its options and its panel profiles.

The options flow edits the default scan settings, the network settings (polling interval,
callback URL), the post-scan endpoint, receiving post-scan jobs and the Paperless-ngx
server; each step merges what it edits into the stored
options, flat under the `CONF_*` keys of const.py (the callback URL is absent unless
set). The profile subentry flow adds and changes panel profiles (profiles.py); Home
Assistant's subentry UI deletes them. A loaded entry reloads itself on any change (its
update listener).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Final

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME, CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util.network import is_host_valid, is_ipv6_address
import probatio
import yarl

from . import wsd
from .const import (
    CONF_CA_FILE,
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_CORRESPONDENT,
    CONF_CREATE_MISSING,
    CONF_DESTINATION,
    CONF_DOCUMENT_ROOT,
    CONF_DOCUMENT_TYPE,
    CONF_ENDPOINT,
    CONF_EVENT_TYPE,
    CONF_FILTERS,
    CONF_FORMAT,
    CONF_NOTIFY_SCANS,
    CONF_PAPER,
    CONF_PAPERLESS,
    CONF_POLL_INTERVAL,
    CONF_POST_SCAN,
    CONF_RESOLUTION,
    CONF_ROTATE_BACKS,
    CONF_SCAN_PROCESS_ID,
    CONF_SESSION,
    CONF_SKIP_BLANK,
    CONF_SOURCE,
    CONF_TAGS,
    CONF_TITLE,
    CONF_USER_IDENTIFIER,
    CONF_VERIFY_TLS,
    DEFAULT_COLOR,
    DEFAULT_FORMAT,
    DEFAULT_PAPER,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RESOLUTION,
    DEFAULT_SOURCE,
    SOURCE_FEEDER_MANUAL_DUPLEX,
    Destination,
    SessionStep,
)
from .dsp_view import (
    CONF_RECEIVE_HOSTS,
    CONF_RECEIVE_POST_SCAN,
    CONF_RECEIVE_SECRET,
    CONF_ROTATE_SECRET,
    endpoint_url,
    receive_options,
)
from .paperless import (
    TITLE_PLACEHOLDERS,
    PaperlessClient,
    PaperlessError,
    PaperlessFields,
    PaperlessNameMissing,
    reference,
    references,
    title_valid,
)
from .post_scan import post_scan_settings, tls_setting
from .profiles import (
    MAX_PROFILE_NAME,
    SETTINGS_KEYS,
    entry_profiles,
    new_event_type,
    profile_settings,
)

SECTION_ADVANCED: Final = "advanced"

SOURCES: Final = [
    *(str(source) for source in wsd.ScanSource),
    SOURCE_FEEDER_MANUAL_DUPLEX,
]
FORMATS: Final = [str(document_format) for document_format in wsd.DocumentFormat]
COLORS: Final = [str(color) for color in wsd.ColorMode]
PAPERS: Final = ["a4", "letter", "legal", "a5", "max"]
RESOLUTIONS: Final = ["75", "100", "150", "200", "300", "600", "1200"]
MIN_POLL_INTERVAL: Final = 10
MAX_POLL_INTERVAL: Final = 3600


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
    probatio.Required(CONF_ROTATE_BACKS, default=False): BooleanSelector(),
}

DESTINATIONS: Final = [str(destination) for destination in Destination]
#: A profile's session step; "off": a scan of its own.
SESSION_OFF: Final = "off"
SESSIONS: Final = [SESSION_OFF, *(str(step) for step in SessionStep)]

#: The blank page sensitivity, as the options and each profile offer it (empty: off).
SKIP_BLANK_SELECTOR: Final = NumberSelector(
    NumberSelectorConfig(
        min=wsd.blank.MIN_SENSITIVITY,
        max=wsd.blank.MAX_SENSITIVITY,
        step=1,
        mode=NumberSelectorMode.SLIDER,
    )
)

PROFILE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        **SETTINGS_FIELDS,
        probatio.Required(CONF_DESTINATION, default=Destination.MEDIA.value): _select(
            DESTINATIONS, CONF_DESTINATION
        ),
        probatio.Optional(CONF_SKIP_BLANK): SKIP_BLANK_SELECTOR,
        probatio.Required(CONF_SESSION, default=SESSION_OFF): _select(
            SESSIONS, CONF_SESSION
        ),
    }
)

PAPERLESS_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_URL): TextSelector(
            TextSelectorConfig(type=TextSelectorType.URL)
        ),
        probatio.Optional(CONF_TOKEN): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        probatio.Optional(CONF_TAGS): TextSelector(TextSelectorConfig(multiple=True)),
        probatio.Required(CONF_CREATE_MISSING, default=False): BooleanSelector(),
    }
)

#: What a profile's documents get in Paperless-ngx (its section of the profile form).
PROFILE_PAPERLESS_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(CONF_TITLE): TextSelector(),
        probatio.Optional(CONF_TAGS): TextSelector(TextSelectorConfig(multiple=True)),
        probatio.Optional(CONF_CORRESPONDENT): TextSelector(),
        probatio.Optional(CONF_DOCUMENT_TYPE): TextSelector(),
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

ADVANCED_SCHEMA: Final = probatio.Schema(
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
)


RECEIVE_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_RECEIVE_POST_SCAN, default=False): BooleanSelector(),
        probatio.Required(CONF_ROTATE_SECRET, default=False): BooleanSelector(),
        probatio.Optional(CONF_RECEIVE_HOSTS): TextSelector(
            TextSelectorConfig(multiple=True)
        ),
    }
)


def _options_schema(*, advanced_open: bool) -> probatio.Schema:
    """Return the settings form; its advanced section opens to show an error in it.

    The frontend shows the error above the form, so a collapsed section would hide the
    field it is about.
    """
    return probatio.Schema(
        {
            **SETTINGS_FIELDS,
            probatio.Optional(CONF_SKIP_BLANK): SKIP_BLANK_SELECTOR,
            probatio.Required(CONF_NOTIFY_SCANS, default=True): BooleanSelector(),
            probatio.Required(SECTION_ADVANCED): section(
                ADVANCED_SCHEMA, {"collapsed": not advanced_open}
            ),
        }
    )


def callback_url(value: str) -> str | None:
    """Return the normalised callback base URL; None unless it is an http(s) URL."""
    try:
        url = yarl.URL(value.strip())
        valid = url.scheme in ("http", "https") and is_host_valid(url.host or "")
    except ValueError:
        return None
    if not valid or url.user is not None or url.query_string or url.fragment:
        return None
    return str(url).rstrip("/")


class WsdScanOptionsFlow(OptionsFlow):
    """Default scan settings, the polling fallback, the callback URL, post-scan.

    Each step merges what it edits into the stored options; the entry's update listener
    reloads it.
    """

    _receive_options: dict[str, Any]

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer what can be changed."""
        return self.async_show_menu(
            step_id="init",
            menu_options=["settings", "post_scan", "receive", "paperless"],
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
                CONF_NOTIFY_SCANS: user_input[CONF_NOTIFY_SCANS],
                CONF_POLL_INTERVAL: int(advanced[CONF_POLL_INTERVAL]),
            }
            options.pop(CONF_SKIP_BLANK, None)
            if (skip_blank := user_input.get(CONF_SKIP_BLANK)) is not None:
                options[CONF_SKIP_BLANK] = int(skip_blank)
            options.pop(CONF_CALLBACK_URL, None)
            options.pop(CONF_ROTATE_BACKS, None)
            if user_input[CONF_ROTATE_BACKS]:
                options[CONF_ROTATE_BACKS] = True
            if raw_url := (advanced.get(CONF_CALLBACK_URL) or "").strip():
                if (url := callback_url(raw_url)) is None:
                    errors["base"] = "invalid_callback_url"
                else:
                    options[CONF_CALLBACK_URL] = url
            if not errors:
                return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                _options_schema(advanced_open=bool(errors)),
                user_input or _sectioned(self.config_entry.options),
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

    async def async_step_receive(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Turn receiving post-scan jobs on or off; make or rotate the URL's secret."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                options = receive_options(self.config_entry.options, user_input)
            except ValueError:
                errors[CONF_RECEIVE_HOSTS] = "invalid_receive_hosts"
            else:
                if not options[CONF_RECEIVE_POST_SCAN]:
                    return self.async_create_entry(data=options)
                self._receive_options = options
                return await self.async_step_receive_url()
        stored = self.config_entry.options
        secret = stored.get(CONF_RECEIVE_SECRET)
        return self.async_show_form(
            step_id="receive",
            data_schema=self.add_suggested_values_to_schema(
                RECEIVE_SCHEMA,
                user_input
                or {
                    CONF_RECEIVE_POST_SCAN: stored.get(CONF_RECEIVE_POST_SCAN, False),
                    CONF_RECEIVE_HOSTS: stored.get(CONF_RECEIVE_HOSTS, []),
                },
            ),
            errors=errors,
            description_placeholders={
                "url": endpoint_url(self.hass, secret) if secret else "-"
            },
        )

    async def async_step_receive_url(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the endpoint's URL to give WS-DSP clients, then save."""
        if user_input is not None:
            return self.async_create_entry(data=self._receive_options)
        return self.async_show_form(
            step_id="receive_url",
            description_placeholders={
                "url": endpoint_url(
                    self.hass, self._receive_options[CONF_RECEIVE_SECRET]
                )
            },
        )

    async def async_step_paperless(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the Paperless-ngx server, checked against its API (no URL: none)."""
        errors: dict[str, str] = {}
        options = dict(self.config_entry.options)
        if user_input is not None:
            if not (raw_url := (user_input.get(CONF_URL) or "").strip()):
                options.pop(CONF_PAPERLESS, None)
                return self.async_create_entry(data=options)
            config, errors = await _paperless_config(self.hass, raw_url, user_input)
            if not errors:
                return self.async_create_entry(data={**options, CONF_PAPERLESS: config})
        shown = user_input
        if shown is None and (stored := options.get(CONF_PAPERLESS)):
            shown = {**stored, CONF_TAGS: _as_text(stored[CONF_TAGS])}
        return self.async_show_form(
            step_id="paperless",
            data_schema=self.add_suggested_values_to_schema(PAPERLESS_SCHEMA, shown),
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
        """Show and save one profile: panel name, scan settings, Paperless-ngx fields."""
        entry = self._get_entry()
        errors: dict[str, str] = {}
        placeholders = {"placeholders": TITLE_PLACEHOLDERS}
        if user_input is not None:
            name = user_input[CONF_NAME].strip()
            paperless = _profile_paperless(user_input.get(CONF_PAPERLESS, {}))
            others = [
                profile.name
                for profile in entry_profiles(entry)
                if current is None or profile.profile_id != current.subentry_id
            ]
            if not name or len(name) > MAX_PROFILE_NAME:
                errors[CONF_NAME] = "invalid_profile_name"
            elif any(other.casefold() == name.casefold() for other in others):
                errors[CONF_NAME] = "duplicate_profile_name"
            elif not title_valid(paperless.get(CONF_TITLE, "")):
                errors["base"] = "invalid_paperless_title"
            elif missing := await _missing_paperless_name(self.hass, entry, paperless):
                errors["base"] = "paperless_name_missing"
                placeholders["missing"] = missing
            else:
                data = {
                    **_settings(user_input),
                    CONF_DESTINATION: user_input[CONF_DESTINATION],
                }
                if (skip_blank := user_input.get(CONF_SKIP_BLANK)) is not None:
                    data[CONF_SKIP_BLANK] = int(skip_blank)
                if paperless:
                    data[CONF_PAPERLESS] = paperless
                if user_input[CONF_ROTATE_BACKS]:
                    data[CONF_ROTATE_BACKS] = True
                if user_input[CONF_SESSION] != SESSION_OFF:
                    data[CONF_SESSION] = user_input[CONF_SESSION]
                if current is None:
                    data[CONF_EVENT_TYPE] = new_event_type(
                        name, {profile.event_type for profile in entry_profiles(entry)}
                    )
                    return self.async_create_entry(title=name, data=data)
                if CONF_EVENT_TYPE in current.data:
                    data[CONF_EVENT_TYPE] = current.data[CONF_EVENT_TYPE]
                return self.async_update_and_abort(
                    entry, current, title=name, data=data
                )
        shown = user_input
        if shown is None and current is not None:
            shown = {
                **_as_shown({**profile_settings(entry, current.data), **current.data}),
                CONF_NAME: current.title,
                CONF_PAPERLESS: _paperless_shown(current.data.get(CONF_PAPERLESS, {})),
            }
        schema = PROFILE_SCHEMA.extend(
            {
                probatio.Optional(CONF_PAPERLESS): section(
                    PROFILE_PAPERLESS_SCHEMA, {"collapsed": "base" not in errors}
                )
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, shown),
            errors=errors,
            description_placeholders=placeholders,
        )


async def _paperless_config(
    hass: HomeAssistant, raw_url: str, user_input: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return a Paperless-ngx configuration as stored, and the form's errors.

    The server must answer its API root and take the token; tags given by name must
    exist there unless missing ones may be created.
    """
    if (url := callback_url(raw_url)) is None:
        return {}, {CONF_URL: "invalid_paperless_url"}
    token = (user_input.get(CONF_TOKEN) or "").strip()
    if not token:
        return {}, {CONF_TOKEN: "invalid_auth"}
    tags = references(user_input.get(CONF_TAGS, []))
    create = bool(user_input.get(CONF_CREATE_MISSING, False))
    client = PaperlessClient(async_get_clientsession(hass), url, token)
    try:
        await client.async_check()
        if not create:
            await client.async_resolve_fields(
                PaperlessFields(), tags=tags, create=False
            )
    except PaperlessNameMissing:
        return {}, {CONF_TAGS: "paperless_tag_missing"}
    except PaperlessError as err:
        return {}, {"base": "invalid_auth" if err.auth else "cannot_connect"}
    return {
        CONF_URL: url,
        CONF_TOKEN: token,
        CONF_TAGS: list(tags),
        CONF_CREATE_MISSING: create,
    }, {}


async def _missing_paperless_name(
    hass: HomeAssistant, entry: ConfigEntry, fields: Mapping[str, Any]
) -> str | None:
    """Return a name among a profile's Paperless-ngx fields that the server lacks.

    Only names that would fail its scans count: with a server set up that may not
    create them. A server out of reach now is no reason to refuse the profile; its
    scans would say so.
    """
    server = entry.options.get(CONF_PAPERLESS)
    if not server or server.get(CONF_CREATE_MISSING) or not fields:
        return None
    client = PaperlessClient(
        async_get_clientsession(hass), server[CONF_URL], server[CONF_TOKEN]
    )
    try:
        await client.async_resolve_fields(
            PaperlessFields.from_config(fields), create=False
        )
    except PaperlessNameMissing as err:
        return err.name
    except PaperlessError:
        return None
    return None


def _profile_paperless(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a profile's Paperless-ngx section was given, as stored.

    Blank fields are left out; a number is an id, other text a name.
    """
    stored: dict[str, Any] = {}
    if title := (user_input.get(CONF_TITLE) or "").strip():
        stored[CONF_TITLE] = title
    if tags := references(user_input.get(CONF_TAGS, [])):
        stored[CONF_TAGS] = list(tags)
    for key in (CONF_CORRESPONDENT, CONF_DOCUMENT_TYPE):
        if value := (user_input.get(key) or "").strip():
            stored[key] = reference(value)
    return stored


def _paperless_shown(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Return a profile's stored Paperless-ngx fields as the form shows them (text)."""
    return {
        key: _as_text(value) if key == CONF_TAGS else str(value)
        for key, value in stored.items()
    }


def _as_text(values: list[int | str]) -> list[str]:
    """Return stored references (ids, names) as a text field shows them."""
    return [str(value) for value in values]


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
    """Whether `value` is an http(s) URL, or a host or `host:port` and nothing more.

    A host is checked as the URL the directed probe makes of it: a path, query or
    user part typed after it would end up in that URL.
    """
    if "://" in value:
        return callback_url(value) is not None
    if is_ipv6_address(value):
        value = f"[{value}]"
    try:
        authority = yarl.URL(f"http://{value}")
    except ValueError:
        return False
    return authority.raw_path in ("", "/") and callback_url(str(authority)) is not None


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
    for key in (CONF_SKIP_BLANK, CONF_NOTIFY_SCANS, CONF_ROTATE_BACKS):
        if key in options:
            shown[key] = options[key]
    shown[SECTION_ADVANCED] = {
        key: options[key]
        for key in (CONF_POLL_INTERVAL, CONF_CALLBACK_URL)
        if key in options
    }
    return shown
