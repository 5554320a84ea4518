"""The config flow and the options flow, against the simulator over loopback.

WS-Discovery runs on 127.0.0.1 with a UDP port of the test's own (`loopback`); scanners
are simulated (`start_scanner`) or scripted HTTP devices (`http_device`). Setting up the
created entry is the runtime's business, so `async_setup_entry` is replaced here
(`mock_setup_entry`): these tests look at what the flows store and when they reload.
Every form and abort any test produces is checked against translations/en.json.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
import dataclasses
import json
from pathlib import Path
import re
from typing import Any
from unittest.mock import AsyncMock, patch
import uuid

from aiohttp import web
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    SOURCE_ZEROCONF,
    ConfigEntry,
    ConfigEntryState,
    ConfigSubentryFlowManager,
    OptionsFlowManager,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowManager, FlowResultType, section
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.selector import SelectSelector
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan import _async_reload, config_flow, options_flow
from custom_components.wsd_scan.config_flow import _address_updates, _model, _moved
from custom_components.wsd_scan.const import (
    CONF_CA_FILE,
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_CORRESPONDENT,
    CONF_DESTINATION,
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
    CONF_SESSION,
    CONF_SKIP_BLANK,
    CONF_SOURCE,
    CONF_TAGS,
    CONF_TITLE,
    CONF_USER_IDENTIFIER,
    CONF_VERIFY_TLS,
    CONF_XADDRS,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_PROFILE_ID,
    DOMAIN,
)
from custom_components.wsd_scan.paperless import PaperlessFields
from custom_components.wsd_scan.profiles import SUBENTRY_PROFILE, entry_profiles
from custom_components.wsd_scan.wsd import DeviceInfo, PaperSize
from custom_components.wsd_scan.wsd.discovery import (
    DIRECTED_PROBE_PATH,
    PRINT_DEVICE_TYPE,
)
from custom_components.wsd_scan.wsd.xml import WSDP
from simulator import PROFILES

from .ha_fixtures import StartScanner
from .loopback import DeviceFactory, Handler

TRANSLATIONS = Path(config_flow.__file__).parent / "translations" / "en.json"
DISCOVERY = "custom_components.wsd_scan.discovery"
FLOW = "custom_components.wsd_scan.config_flow"


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def no_interfaces(socket_enabled: None) -> Iterator[None]:
    """No adapter to probe on: the user step goes straight to the manual step."""
    with patch(f"{DISCOVERY}.async_get_interfaces", return_value=[]):
        yield


@pytest.fixture
def mock_setup_entry() -> Iterator[AsyncMock]:
    """Replace the runtime's entry setup (and unload) with a stub that succeeds.

    Like the real setup, the stub reloads the entry when it changes (update listener).
    """

    async def setup(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        entry.async_on_unload(entry.add_update_listener(_async_reload))
        return True

    with (
        patch("custom_components.wsd_scan.async_setup_entry", side_effect=setup) as m,
        patch("custom_components.wsd_scan.async_unload_entry", return_value=True),
    ):
        yield m


# --- every form and abort is translated -----------------------------------------------------


def _translations() -> dict[str, Any]:
    return json.loads(TRANSLATIONS.read_text(encoding="utf-8"))


def _lookup(tree: dict[str, Any], path: str) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _missing_translations(category: str, result: dict[str, Any]) -> list[str]:
    """Return the translation keys a flow result needs but en.json lacks."""
    strings = _translations()
    needed: list[str] = []
    if result["type"] is FlowResultType.ABORT:
        if result.get("translation_domain") is None:
            needed.append(f"{category}.abort.{result['reason']}")
    elif result["type"] is FlowResultType.MENU:
        step = f"{category}.step.{result['step_id']}"
        needed.append(f"{step}.title")
        needed.extend(f"{step}.menu_options.{o}" for o in result["menu_options"])
    elif result["type"] is FlowResultType.FORM:
        step = f"{category}.step.{result['step_id']}"
        needed.append(f"{step}.title")
        placeholders = set(result.get("description_placeholders") or {})
        description = _lookup(strings, f"{step}.description") or ""
        needed.extend(
            f"{step}.description placeholder {{{name}}}"
            for name in re.findall(r"{(\w+)}", description)
            if name not in placeholders
        )
        needed.extend(
            f"{category}.error.{error}" for error in (result["errors"] or {}).values()
        )
        schema = result["data_schema"]
        for key, validator in (schema.schema if schema is not None else {}).items():
            name = str(key.schema)
            if isinstance(validator, section):
                needed.append(f"{step}.sections.{name}.name")
                needed.extend(
                    f"{step}.sections.{name}.data.{inner.schema}"
                    for inner in validator.schema.schema
                )
                continue
            needed.append(f"{step}.data.{name}")
            if isinstance(validator, SelectSelector):
                needed.extend(_option_keys(validator))
    return [key for key in needed if " " in key or _lookup(strings, key) is None]


def _option_keys(selector: SelectSelector) -> list[str]:
    key = selector.config.get("translation_key")
    if key is None:
        return []
    values = [
        option if isinstance(option, str) else option["value"]
        for option in selector.config["options"]
    ]
    if key == CONF_DEVICE:  # the discovered scanners are named by themselves
        values = [config_flow.MANUAL]
    return [f"selector.{key}.options.{value}" for value in values]


@pytest.fixture(autouse=True)
def check_translations(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if any flow result (discovery flows too) lacks a translation."""
    missing: list[str] = []
    original = FlowManager._async_handle_step  # noqa: SLF001 - every result passes here

    async def handle_step(self: FlowManager, *args: Any, **kwargs: Any) -> Any:
        result = await original(self, *args, **kwargs)
        category = "config"
        if isinstance(self, OptionsFlowManager):
            category = "options"
        elif isinstance(self, ConfigSubentryFlowManager):
            category = f"config_subentries.{args[0].handler[1]}"
        missing.extend(_missing_translations(category, result))
        return result

    monkeypatch.setattr(FlowManager, "_async_handle_step", handle_step)
    yield
    assert not missing, f"missing in translations/en.json: {sorted(set(missing))}"


def _flow_reasons() -> tuple[set[str], set[str]]:
    """Return the (error or abort, abort-only) reasons config_flow.py can produce."""
    tree = ast.parse(Path(config_flow.__file__).read_text(encoding="utf-8"))
    either: set[str] = set()
    aborts = {"already_configured", "unique_id_mismatch"}  # from ConfigFlow's helpers

    def constants(node: ast.AST) -> set[str]:
        return {
            child.value
            for child in ast.walk(node)
            if isinstance(child, ast.Constant) and isinstance(child.value, str)
        }

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "AbortFlow":
                aborts |= constants(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in (
            "_reason",
            "_async_attempt",
        ):
            for statement in ast.walk(node):
                if isinstance(statement, ast.Return) and statement.value is not None:
                    either |= constants(statement.value)
    return either, aborts


def test_every_reason_is_translated() -> None:
    """Each error and abort the flow can raise has its text; options errors too."""
    strings = _translations()
    either, aborts = _flow_reasons()
    assert either == {"cannot_connect", "invalid_host", "not_wsd_scanner", "unknown"}
    assert either <= set(strings["config"]["error"])
    # A discovery flow aborts with what a form would show (an mDNS host is always valid).
    assert (either - {"invalid_host"}) | aborts <= set(strings["config"]["abort"])
    assert set(strings["options"]["error"]) == {
        "invalid_callback_url",
        "invalid_endpoint",
        "invalid_filter",
        "invalid_ca_file",
        "invalid_receive_hosts",
        "invalid_paperless_url",
        "paperless_tag_missing",
        "invalid_auth",
        "cannot_connect",
    }
    assert set(strings["config_subentries"][SUBENTRY_PROFILE]["error"]) == {
        "invalid_profile_name",
        "duplicate_profile_name",
        "invalid_paperless_title",
        "paperless_name_missing",
    }


def test_option_values_are_the_librarys() -> None:
    """The options offer exactly what the library's ScanSettings understand."""
    assert set(options_flow.PAPERS) == {str(paper) for paper in PaperSize}
    strings = _translations()["selector"]
    for key, values in (
        (CONF_SOURCE, options_flow.SOURCES),
        (CONF_FORMAT, options_flow.FORMATS),
        (CONF_COLOR, options_flow.COLORS),
        (CONF_PAPER, options_flow.PAPERS),
        (CONF_RESOLUTION, options_flow.RESOLUTIONS),
    ):
        assert set(strings[key]["options"]) == set(values)


# --- scripted devices -------------------------------------------------------------------------

SOAP_HEAD = (
    '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
    ' xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"'
    ' xmlns:wsx="http://schemas.xmlsoap.org/ws/2004/09/mex"'
    ' xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan"'
    ' xmlns:wprt="http://schemas.microsoft.com/windows/2006/08/wdp/print">'
)


def _envelope(action: str, body: str) -> bytes:
    return (
        f"{SOAP_HEAD}<soap:Header><wsa:Action>{action}</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID></soap:Header>"
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def probe_matches(endpoint: str, xaddr: str) -> bytes:
    """ProbeMatches of a printer that advertises no scanner."""
    return _envelope(
        "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches",
        "<wsd:ProbeMatches><wsd:ProbeMatch><wsa:EndpointReference><wsa:Address>"
        f"urn:uuid:{endpoint}</wsa:Address></wsa:EndpointReference>"
        "<wsd:Types>wsdp:Device wprt:PrintDeviceType</wsd:Types>"
        f"<wsd:XAddrs>{xaddr}</wsd:XAddrs><wsd:MetadataVersion>1</wsd:MetadataVersion>"
        "</wsd:ProbeMatch></wsd:ProbeMatches>",
    )


def get_response(endpoint: str, base: str, *, scanner: bool) -> bytes:
    """Write a GetResponse naming the device (wsdp:Host), with or without a scanner."""
    service, service_type = (
        ("scan", "wscn:ScannerServiceType")
        if scanner
        else ("print", "wprt:PrinterServiceType")
    )
    return _envelope(
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse",
        "<wsx:Metadata>"
        '<wsx:MetadataSection Dialect="http://schemas.xmlsoap.org/ws/2006/02/devprof/ThisModel">'
        "<wsdp:ThisModel><wsdp:Manufacturer>Scripted</wsdp:Manufacturer>"
        "<wsdp:ModelName>Scripted 100</wsdp:ModelName></wsdp:ThisModel></wsx:MetadataSection>"
        '<wsx:MetadataSection Dialect="http://schemas.xmlsoap.org/ws/2006/02/devprof/ThisDevice">'
        "<wsdp:ThisDevice><wsdp:FriendlyName>Scripted device</wsdp:FriendlyName>"
        "</wsdp:ThisDevice></wsx:MetadataSection>"
        '<wsx:MetadataSection Dialect="http://schemas.xmlsoap.org/ws/2006/02/devprof/Relationship">'
        '<wsdp:Relationship Type="http://schemas.xmlsoap.org/ws/2006/02/devprof/host">'
        f"<wsdp:Host><wsa:EndpointReference><wsa:Address>urn:uuid:{endpoint}</wsa:Address>"
        "</wsa:EndpointReference></wsdp:Host>"
        f"<wsdp:Hosted><wsa:EndpointReference><wsa:Address>{base}/{service}</wsa:Address>"
        f"</wsa:EndpointReference><wsdp:Types>{service_type}</wsdp:Types></wsdp:Hosted>"
        "</wsdp:Relationship></wsx:MetadataSection></wsx:Metadata>",
    )


def _soap(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/soap+xml")


async def accepts_everything(request: web.Request) -> web.Response:
    """Answer like a web server that takes the Probe: 202 and nothing (DPWS R1022)."""
    await request.read()
    return web.Response(status=202)


def printer(endpoint: str) -> Handler:
    """Act as a WSD printer without a scan service (it answers the Probe and the Get)."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        base = f"http://{request.host}"
        if request.path == DIRECTED_PROBE_PATH:
            return _soap(probe_matches(endpoint, f"{base}/device"))
        return _soap(get_response(endpoint, base, scanner=False))

    return handle


def url_only_scanner(endpoint: str) -> Handler:
    """Act as a scanner known by its device URL only (no probe endpoint: 404)."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        if request.path == DIRECTED_PROBE_PATH:
            return web.Response(status=404)
        return _soap(get_response(endpoint, f"http://{request.host}", scanner=True))

    return handle


# --- helpers ----------------------------------------------------------------------------------


async def start_user_flow(hass: HomeAssistant) -> dict[str, Any]:
    """Start the user flow."""
    return dict(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
    )


async def configure(
    hass: HomeAssistant, result: dict[str, Any], user_input: dict[str, Any] | None
) -> dict[str, Any]:
    """Submit a step of a config flow."""
    return dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    )


def listed(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (value, label) options of the user step's scanner list."""
    selector = result["data_schema"].schema[CONF_DEVICE]
    return [(o["value"], o["label"]) for o in selector.config["options"]]


def suggested(result: dict[str, Any]) -> dict[str, Any]:
    """Return the suggested values of a form (sections nested)."""
    values: dict[str, Any] = {}
    for key, validator in result["data_schema"].schema.items():
        if isinstance(validator, section):
            values[str(key.schema)] = {
                str(inner.schema): (inner.description or {}).get("suggested_value")
                for inner in validator.schema.schema
            }
        else:
            values[str(key.schema)] = (key.description or {}).get("suggested_value")
    return values


def zeroconf_info(host: str, port: int) -> ZeroconfServiceInfo:
    """Return what zeroconf hands over for an eSCL (`_uscan._tcp`) announcement."""
    from ipaddress import ip_address  # noqa: PLC0415

    return ZeroconfServiceInfo(
        ip_address=ip_address(host),
        ip_addresses=[ip_address(host)],
        hostname="scanner.local.",
        name="Scanner._uscan._tcp.local.",
        port=port,
        type="_uscan._tcp.local.",
        properties={"ty": "Scanner", "rs": "eSCL"},
    )


def entry_for(
    scanner_uuid: str, host: str, xaddrs: list[str], **kwargs: Any
) -> MockConfigEntry:
    """Return the entry of a configured scanner."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Old name",
        unique_id=scanner_uuid,
        data={CONF_HOST: host, CONF_XADDRS: xaddrs},
        **kwargs,
    )


# --- user: the list of scanners WS-Discovery finds -------------------------------------------


async def test_user_picks_a_discovered_scanner(
    hass: HomeAssistant, start_scanner: StartScanner, mock_setup_entry: AsyncMock
) -> None:
    """Scanners answering the probe are listed by name; the pick is confirmed, added."""
    office = await start_scanner("office_mfp")
    flatbed = await start_scanner("photo_flatbed")

    result = await start_user_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert listed(result) == [
        (office.uuid, "Simulated Office MFP (127.0.0.1)"),
        (flatbed.uuid, "Simulated PhotoScan 1200 (127.0.0.1)"),
        (config_flow.MANUAL, "Enter a host"),
    ]

    result = await configure(hass, result, {CONF_DEVICE: office.uuid})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {
        "name": "Simulated Office MFP",
        "model": "Simulated Imaging OfficeJet Sim 4200dn",
        "host": "127.0.0.1",
    }

    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Office MFP"
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_XADDRS: [office.device_url]}
    assert result["result"].unique_id == office.uuid
    # A new scanner starts with the default panel profile, following the defaults.
    assert [
        (subentry.subentry_id, subentry.title, dict(subentry.data))
        for subentry in result["result"].subentries.values()
    ] == [(DEFAULT_PROFILE_ID, "Home Assistant", {})]
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 1


async def test_user_leaves_out_configured_scanners(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """A scanner that has an entry is not offered again; an ignored one is."""
    office = await start_scanner("office_mfp")
    flatbed = await start_scanner("photo_flatbed")
    entry_for(office.uuid, "127.0.0.1", [office.device_url]).add_to_hass(hass)
    MockConfigEntry(
        domain=DOMAIN, unique_id=flatbed.uuid, source=SOURCE_IGNORE, data={}
    ).add_to_hass(hass)

    result = await start_user_flow(hass)
    assert [value for value, _ in listed(result)] == [flatbed.uuid, config_flow.MANUAL]


async def test_user_without_new_scanners_asks_for_a_host(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """When every scanner found is configured, the flow asks for an address at once."""
    office = await start_scanner("office_mfp")
    entry_for(office.uuid, "127.0.0.1", [office.device_url]).add_to_hass(hass)

    result = await start_user_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"


@pytest.mark.parametrize(
    "interfaces",
    [[], ["not-an-address"]],
    ids=["no adapter enabled", "probe cannot start"],
)
async def test_user_without_discovery_asks_for_a_host(
    hass: HomeAssistant, socket_enabled: None, interfaces: list[str]
) -> None:
    """No adapter to probe on, or a probe that cannot start: the manual step."""
    with patch(f"{DISCOVERY}.async_get_interfaces", return_value=interfaces):
        result = await start_user_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"


async def test_user_chooses_to_enter_a_host(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """The last choice of the list leads to the manual step."""
    await start_scanner("office_mfp")
    result = await start_user_flow(hass)
    result = await configure(hass, result, {CONF_DEVICE: config_flow.MANUAL})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"


async def test_user_lists_scanner_whose_metadata_failed(
    hass: HomeAssistant,
    start_scanner: StartScanner,
    http_device: DeviceFactory,
    mock_setup_entry: AsyncMock,
) -> None:
    """A scanner that advertised itself is listed by address even without metadata.

    Picking it reads the metadata again: an error while the device still drops the
    connection, the confirmation once it answers.
    """
    office = await start_scanner("office_mfp")
    gets = 0

    async def flaky(request: web.Request) -> web.StreamResponse:
        nonlocal gets
        await request.read()
        gets += 1
        if gets <= 2:  # the list's Get and the first pick's
            assert request.transport is not None
            request.transport.abort()
        return _soap(get_response(office.uuid, f"http://{request.host}", scanner=True))

    # The device's XAddr (built from its port) now leads to the flaky server.
    office.http_port = int((await http_device(flaky)).rsplit(":", 1)[1])

    result = await start_user_flow(hass)
    assert listed(result)[0] == (office.uuid, "127.0.0.1")
    result = await configure(hass, result, {CONF_DEVICE: office.uuid})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "cannot_connect"}

    result = await configure(hass, result, {CONF_DEVICE: office.uuid})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["name"] == "Scripted device"
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == office.uuid
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_XADDRS: [office.device_url]}


async def test_user_metadata_that_never_comes(
    hass: HomeAssistant, start_scanner: StartScanner, http_device: DeviceFactory
) -> None:
    """A device whose Get hangs is listed by address once REQUEST_TIMEOUT has passed."""
    office = await start_scanner("office_mfp")
    released = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await request.read()
        await released.wait()
        return web.Response(status=500)

    office.http_port = int((await http_device(hang)).rsplit(":", 1)[1])
    with patch(f"{FLOW}.REQUEST_TIMEOUT", 0.2):
        result = await start_user_flow(hass)
    assert listed(result)[0] == (office.uuid, "127.0.0.1")
    released.set()


async def test_user_lists_print_only_mfp_that_hosts_a_scanner(
    hass: HomeAssistant, start_scanner: StartScanner
) -> None:
    """An MFP advertising only print types is listed when its metadata has a scanner."""
    print_only = dataclasses.replace(
        PROFILES["office_mfp"],
        device_types=((WSDP, "Device"), PRINT_DEVICE_TYPE),
    )
    office = await start_scanner(print_only)
    result = await start_user_flow(hass)
    assert listed(result)[0] == (office.uuid, "Simulated Office MFP (127.0.0.1)")


async def test_user_leaves_out_print_only_device_without_metadata(
    hass: HomeAssistant, start_scanner: StartScanner, closed_port: int
) -> None:
    """A device advertising only print types, whose metadata fails, is not listed."""
    print_only = dataclasses.replace(
        PROFILES["office_mfp"], device_types=((WSDP, "Device"), PRINT_DEVICE_TYPE)
    )
    office = await start_scanner(print_only)
    office.http_port = closed_port  # it advertises an XAddr where nothing answers
    result = await start_user_flow(hass)
    assert result["step_id"] == "manual"


# --- manual -----------------------------------------------------------------------------------


async def test_manual_host_and_port(
    hass: HomeAssistant,
    no_interfaces: None,
    start_scanner: StartScanner,
    mock_setup_entry: AsyncMock,
) -> None:
    """host:port is found by a directed probe, described, confirmed and added."""
    office = await start_scanner("office_mfp", discovery=False)
    result = await start_user_flow(hass)
    assert result["step_id"] == "manual"

    result = await configure(
        hass, result, {CONF_HOST: f" 127.0.0.1:{office.http_port} "}
    )
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["host"] == f"127.0.0.1:{office.http_port}"
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Office MFP"
    assert result["data"] == {
        CONF_HOST: f"127.0.0.1:{office.http_port}",
        CONF_XADDRS: [office.device_url],
    }
    assert result["result"].unique_id == office.uuid


async def test_manual_device_url(
    hass: HomeAssistant,
    no_interfaces: None,
    start_scanner: StartScanner,
    mock_setup_entry: AsyncMock,
) -> None:
    """A device URL is probed on its server; the URL itself comes first."""
    kyocera = await start_scanner("kyocera_m2040dn", discovery=False)
    result = await start_user_flow(hass)
    result = await configure(hass, result, {CONF_HOST: kyocera.device_url})
    assert result["description_placeholders"] == {
        "name": "Kyocera:ECOSYS M2040dn:KM7B6A91",
        "model": "Kyocera ECOSYS M2040dn",
        "host": kyocera.device_url,
    }
    result = await configure(hass, result, {})
    assert result["data"] == {
        CONF_HOST: kyocera.device_url,
        CONF_XADDRS: [kyocera.device_url],
    }
    assert result["result"].unique_id == kyocera.uuid


async def test_manual_device_url_without_probe_endpoint(
    hass: HomeAssistant,
    no_interfaces: None,
    http_device: DeviceFactory,
    mock_setup_entry: AsyncMock,
) -> None:
    """A device URL that answers Get but not the directed probe: metadata names it."""
    endpoint = str(uuid.uuid4())
    url = f"{await http_device(url_only_scanner(endpoint))}/device"
    result = await start_user_flow(hass)
    result = await configure(hass, result, {CONF_HOST: url})
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"]["model"] == "Scripted 100"
    result = await configure(hass, result, {})
    assert result["data"] == {CONF_HOST: url, CONF_XADDRS: [url]}
    assert result["result"].unique_id == endpoint


async def test_manual_errors_then_success(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    no_interfaces: None,
    start_scanner: StartScanner,
    http_device: DeviceFactory,
    closed_port: int,
    mock_setup_entry: AsyncMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each failure is told in the form, which keeps the host; then a scanner is added."""
    office = await start_scanner("office_mfp", discovery=False)
    accepting = await http_device(accepts_everything)
    printer_url = await http_device(printer(str(uuid.uuid4())))
    result = await start_user_flow(hass)

    for host, errors in (
        ("http://", {CONF_HOST: "invalid_host"}),
        (f"127.0.0.1:{closed_port}", {"base": "cannot_connect"}),
        (accepting.removeprefix("http://"), {"base": "not_wsd_scanner"}),
        (printer_url.removeprefix("http://"), {"base": "not_wsd_scanner"}),
        (f"{accepting}/device", {"base": "not_wsd_scanner"}),
    ):
        result = await configure(hass, result, {CONF_HOST: host})
        assert result["type"] is FlowResultType.FORM, host
        assert result["step_id"] == "manual"
        assert result["errors"] == errors, host
        assert suggested(result) == {CONF_HOST: host}

    with patch(
        "custom_components.wsd_scan.wsd.locate", side_effect=RuntimeError("bug")
    ):
        result = await configure(hass, result, {CONF_HOST: "127.0.0.1"})
    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while talking to the scanner" in caplog.text

    result = await configure(hass, result, {CONF_HOST: f"127.0.0.1:{office.http_port}"})
    assert result["step_id"] == "confirm"
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_manual_configured_scanner_aborts(
    hass: HomeAssistant, no_interfaces: None, start_scanner: StartScanner
) -> None:
    """A scanner that has an entry is not added twice, whatever address was typed."""
    office = await start_scanner("office_mfp", discovery=False)
    entry_for(office.uuid, "192.0.2.40", ["http://192.0.2.40/wsd"]).add_to_hass(hass)
    result = await start_user_flow(hass)
    result = await configure(hass, result, {CONF_HOST: f"127.0.0.1:{office.http_port}"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# --- zeroconf ---------------------------------------------------------------------------------


async def start_zeroconf_flow(
    hass: HomeAssistant, host: str, port: int
) -> dict[str, Any]:
    """Start a flow as zeroconf does for an `_uscan._tcp` announcement."""
    return dict(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_ZEROCONF}, data=zeroconf_info(host, port)
        )
    )


async def test_zeroconf_confirms_wsd_first(
    hass: HomeAssistant,
    start_scanner: StartScanner,
    closed_port: int,
    mock_setup_entry: AsyncMock,
) -> None:
    """The host is probed on the usual ports and the advertised one; WSD is offered."""
    office = await start_scanner("office_mfp", discovery=False)
    with patch(f"{FLOW}.PROBE_PORTS", (closed_port,)):
        result = await start_zeroconf_flow(hass, "127.0.0.1", office.http_port)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["confirm_only"] is True
    assert flow["context"]["title_placeholders"] == {
        "name": "Simulated Office MFP",
        "host": f"127.0.0.1:{office.http_port}",
    }
    assert flow["context"]["unique_id"] == office.uuid

    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_HOST: f"127.0.0.1:{office.http_port}",
        CONF_XADDRS: [office.device_url],
    }


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        ("closed", "cannot_connect"),
        ("accepting", "not_wsd_scanner"),
        ("printer", "not_wsd_scanner"),
    ],
)
async def test_zeroconf_aborts_without_wsd_scanner(
    hass: HomeAssistant,
    http_device: DeviceFactory,
    closed_port: int,
    device: str,
    reason: str,
) -> None:
    """Nothing answers, or no WSD scanner does: the discovery is dropped quietly."""
    if device == "closed":
        port = closed_port
    else:
        handler = accepts_everything if device == "accepting" else None
        base = await http_device(handler or printer(str(uuid.uuid4())))
        port = int(base.rsplit(":", 1)[1])
    with patch(f"{FLOW}.PROBE_PORTS", (closed_port,)):
        result = await start_zeroconf_flow(hass, "127.0.0.1", port)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


async def test_zeroconf_unexpected_error(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug aborts the discovery with `unknown` and leaves a trace in the log."""
    with patch(
        "custom_components.wsd_scan.wsd.locate", side_effect=RuntimeError("bug")
    ):
        result = await start_zeroconf_flow(hass, "127.0.0.1", 80)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unknown"
    assert "RuntimeError: bug" in caplog.text


async def test_zeroconf_known_scanner_at_new_address(
    hass: HomeAssistant,
    start_scanner: StartScanner,
    closed_port: int,
    mock_setup_entry: AsyncMock,
) -> None:
    """A configured scanner found at another address: host and XAddrs follow, reload.

    The entry keeps the port it was configured with; only the address changes.
    """
    office = await start_scanner("office_mfp", discovery=False)
    entry = entry_for(office.uuid, "192.0.2.40:5357", ["http://192.0.2.40:5357/d"])
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED

    with patch(f"{FLOW}.PROBE_PORTS", (closed_port,)):
        result = await start_zeroconf_flow(hass, "127.0.0.1", office.http_port)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data == {
        CONF_HOST: "127.0.0.1:5357",
        CONF_XADDRS: [office.device_url],
    }
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 2  # reloaded


@pytest.mark.parametrize("retrying", [False, True])
async def test_zeroconf_known_host_aborts_without_probing(
    hass: HomeAssistant,
    socket_enabled: None,
    mock_setup_entry: AsyncMock,
    retrying: bool,
) -> None:
    """MDNS repeats itself: a host in use is not probed; a retrying entry is reloaded."""
    entry = entry_for(str(uuid.uuid4()), "127.0.0.1:1", ["http://127.0.0.1:1/d"])
    entry.add_to_hass(hass)
    if retrying:
        mock_setup_entry.side_effect = [ConfigEntryNotReady, True]
        await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY

    with patch(
        "custom_components.wsd_scan.wsd.locate", side_effect=AssertionError
    ) as locate:
        result = await start_zeroconf_flow(hass, "127.0.0.1", 80)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert not locate.called
    await hass.async_block_till_done()
    assert entry.state is (
        ConfigEntryState.LOADED if retrying else ConfigEntryState.NOT_LOADED
    )


# --- integration discovery (data from discovery.py) -------------------------------------------


async def start_discovery_flow(
    hass: HomeAssistant, scanner_uuid: str, host: str, xaddrs: list[str]
) -> dict[str, Any]:
    """Start a flow as discovery.py does."""
    return dict(
        await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data={"uuid": scanner_uuid, "xaddrs": xaddrs, "host": host},
        )
    )


async def test_integration_discovery_confirm(
    hass: HomeAssistant, start_scanner: StartScanner, mock_setup_entry: AsyncMock
) -> None:
    """A scanner heard by WS-Discovery is described and offered for confirmation."""
    office = await start_scanner("office_mfp", discovery=False)
    result = await start_discovery_flow(
        hass, f"urn:uuid:{office.uuid.upper()}", "127.0.0.1", [office.device_url]
    )
    assert result["step_id"] == "confirm"
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["unique_id"] == office.uuid
    result = await configure(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_HOST: "127.0.0.1", CONF_XADDRS: [office.device_url]}


async def test_integration_discovery_updates_known_scanner(
    hass: HomeAssistant, socket_enabled: None, mock_setup_entry: AsyncMock
) -> None:
    """A new address updates the entry and reloads it; the same addresses do not."""
    known = str(uuid.uuid4())
    xaddrs = ["http://192.0.2.40/d", "http://[fe80::1%252]/d"]
    entry = entry_for(known, "http://192.0.2.40/d", xaddrs)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)

    # Same address, XAddrs in another order: nothing to do, no reload.
    result = await start_discovery_flow(hass, known, "192.0.2.40", xaddrs[::-1])
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data[CONF_XADDRS] == xaddrs
    assert len(mock_setup_entry.mock_calls) == 1

    # A new address: the device URL keeps its form, the XAddrs are replaced.
    result = await start_discovery_flow(
        hass, known, "192.0.2.41", ["http://192.0.2.41/d"]
    )
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.data == {
        CONF_HOST: "http://192.0.2.41/d",
        CONF_XADDRS: ["http://192.0.2.41/d"],
    }
    assert len(mock_setup_entry.mock_calls) == 2


async def test_integration_discovery_leaves_ignored_scanner_alone(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """An ignored scanner stays ignored, and its (empty) entry is not filled in."""
    known = str(uuid.uuid4())
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=known, source=SOURCE_IGNORE, data={}
    )
    entry.add_to_hass(hass)
    result = await start_discovery_flow(
        hass, known, "192.0.2.40", ["http://192.0.2.40/"]
    )
    assert result["reason"] == "already_configured"
    assert entry.data == {}


@pytest.mark.parametrize("device", ["closed", "printer"])
async def test_integration_discovery_aborts(
    hass: HomeAssistant, http_device: DeviceFactory, closed_port: int, device: str
) -> None:
    """An announcement whose XAddrs do not answer, or answer without a scanner."""
    endpoint = str(uuid.uuid4())
    if device == "closed":
        xaddr, reason = f"http://127.0.0.1:{closed_port}/d", "cannot_connect"
    else:
        xaddr, reason = f"{await http_device(printer(endpoint))}/d", "not_wsd_scanner"
    result = await start_discovery_flow(hass, endpoint, "127.0.0.1", [xaddr])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason


def test_address_updates_of_entry_without_host() -> None:
    """An entry without a usable host gets the one discovery reached."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="u", data={})
    assert _address_updates(entry, "192.0.2.41", ("http://192.0.2.41/d",)) == {
        CONF_HOST: "192.0.2.41",
        CONF_XADDRS: ["http://192.0.2.41/d"],
    }


def test_moved_keeps_the_configured_form() -> None:
    """Only the address of a host, host:port or device URL changes."""
    assert _moved("192.0.2.40", "192.0.2.41") == "192.0.2.41"
    assert _moved("192.0.2.40:8018", "192.0.2.41") == "192.0.2.41:8018"
    assert _moved("192.0.2.40:80", "fe80::1") == "[fe80::1]"
    assert (
        _moved("http://192.0.2.40:5358/DeviceService/", "192.0.2.41")
        == "http://192.0.2.41:5358/DeviceService/"
    )
    assert _moved("", "192.0.2.41") == "192.0.2.41"


def test_model_for_the_ui() -> None:
    """The manufacturer is not repeated; without model data the name stands in."""
    assert _model(DeviceInfo("u", manufacturer="HP", model="HP Laser")) == ("HP Laser")
    assert _model(DeviceInfo("u", friendly_name="Desk")) == "Desk"


# --- reconfigure ------------------------------------------------------------------------------


@pytest.mark.parametrize("retrying", [False, True])
async def test_reconfigure_changes_the_address(
    hass: HomeAssistant,
    start_scanner: StartScanner,
    mock_setup_entry: AsyncMock,
    retrying: bool,
) -> None:
    """The same scanner at a new address: host and XAddrs replaced, entry reloaded.

    A loaded entry reloads itself on the change; one waiting to retry is retried now.
    """
    office = await start_scanner("office_mfp", discovery=False)
    entry = entry_for(office.uuid, "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)
    if retrying:
        mock_setup_entry.side_effect = [ConfigEntryNotReady, True]
    await hass.config_entries.async_setup(entry.entry_id)

    result = dict(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "reconfigure"
    assert suggested(result) == {CONF_HOST: "192.0.2.40"}
    assert result["description_placeholders"] == {"name": "Old name"}

    result = await configure(hass, result, {CONF_HOST: "http://"})
    assert result["errors"] == {CONF_HOST: "invalid_host"}
    result = await configure(hass, result, {CONF_HOST: f"127.0.0.1:{office.http_port}"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {
        CONF_HOST: f"127.0.0.1:{office.http_port}",
        CONF_XADDRS: [office.device_url],
    }
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 2
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_to_another_scanner_aborts(
    hass: HomeAssistant,
    start_scanner: StartScanner,
    closed_port: int,
    mock_setup_entry: AsyncMock,
) -> None:
    """An unreachable address is an error; another scanner's address aborts."""
    office = await start_scanner("office_mfp", discovery=False)
    entry = entry_for(str(uuid.uuid4()), "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)

    result = dict(await entry.start_reconfigure_flow(hass))
    assert hass.config_entries.flow.async_get(result["flow_id"])["context"][
        "source"
    ] == (SOURCE_RECONFIGURE)
    result = await configure(hass, result, {CONF_HOST: f"127.0.0.1:{closed_port}"})
    assert result["errors"] == {"base": "cannot_connect"}
    result = await configure(hass, result, {CONF_HOST: f"127.0.0.1:{office.http_port}"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"
    assert entry.data[CONF_HOST] == "192.0.2.40"
    assert not mock_setup_entry.called


# --- options ----------------------------------------------------------------------------------


async def set_up_entry(hass: HomeAssistant, host: str) -> MockConfigEntry:
    """Add the entry of a scanner at `host` and set it up."""
    entry = entry_for(str(uuid.uuid4()), host, [f"http://{host}/wsd"])
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    return entry


async def open_options(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    step: str,
    user_input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open the options flow, choose `step` in its menu and submit `user_input`, if any."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    if user_input is not None:
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], user_input
        )
    return dict(result)


async def test_options_saved_flat_and_entry_reloaded(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """Scan defaults, blank pages and the advanced section are stored flat; saves reload."""
    entry = await set_up_entry(hass, "192.0.2.40")

    result = await open_options(hass, entry, "settings")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"
    schema = result["data_schema"].schema
    assert schema[options_flow.SECTION_ADVANCED].options == {"collapsed": True}

    user_input = {
        CONF_SOURCE: "feeder_duplex",
        CONF_FORMAT: "jpeg",
        CONF_RESOLUTION: "600",
        CONF_COLOR: "gray",
        CONF_PAPER: "letter",
        CONF_SKIP_BLANK: 40.0,
        CONF_NOTIFY_SCANS: False,
        options_flow.SECTION_ADVANCED: {
            CONF_POLL_INTERVAL: 120,
            CONF_CALLBACK_URL: " http://192.168.1.5:8123/ ",
        },
    }
    result = dict(
        await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {
        CONF_SOURCE: "feeder_duplex",
        CONF_FORMAT: "jpeg",
        CONF_RESOLUTION: 600,
        CONF_COLOR: "gray",
        CONF_PAPER: "letter",
        CONF_SKIP_BLANK: 40,
        CONF_NOTIFY_SCANS: False,
        CONF_POLL_INTERVAL: 120,
        CONF_CALLBACK_URL: "http://192.168.1.5:8123",
    }
    assert len(mock_setup_entry.mock_calls) == 2

    # Opened again, the form shows what is stored.
    result = await open_options(hass, entry, "settings")
    assert suggested(result) == {
        CONF_SOURCE: "feeder_duplex",
        CONF_FORMAT: "jpeg",
        CONF_RESOLUTION: "600",
        CONF_COLOR: "gray",
        CONF_PAPER: "letter",
        CONF_SKIP_BLANK: 40,
        CONF_ROTATE_BACKS: None,
        CONF_NOTIFY_SCANS: False,
        options_flow.SECTION_ADVANCED: {
            CONF_POLL_INTERVAL: 120,
            CONF_CALLBACK_URL: "http://192.168.1.5:8123",
        },
    }

    # Clearing the callback URL or the blank page sensitivity removes it.
    user_input[options_flow.SECTION_ADVANCED] = {CONF_POLL_INTERVAL: 60}
    del user_input[CONF_SKIP_BLANK]
    result = dict(
        await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_CALLBACK_URL not in entry.options
    assert CONF_SKIP_BLANK not in entry.options
    assert entry.options[CONF_POLL_INTERVAL] == 60


#: The fields of a profile's Paperless-ngx section.
PAPERLESS_FIELDS = (CONF_TITLE, CONF_TAGS, CONF_CORRESPONDENT, CONF_DOCUMENT_TYPE)
PHOTO_SETTINGS = {
    CONF_SOURCE: "platen",
    CONF_FORMAT: "jpeg",
    CONF_RESOLUTION: "600",
    CONF_COLOR: "color",
    CONF_PAPER: "max",
}


STORED_OPTIONS = {
    CONF_SOURCE: "platen",
    CONF_FORMAT: "png",
    CONF_RESOLUTION: 600,
    CONF_COLOR: "gray",
    CONF_PAPER: "letter",
    CONF_POLL_INTERVAL: 60,
    CONF_CALLBACK_URL: "http://192.168.1.5:8123",
    CONF_POST_SCAN: {CONF_ENDPOINT: "scanserver", CONF_VERIFY_TLS: False},
}


@pytest.mark.parametrize(
    ("step", "user_input", "edited"),
    [
        (
            "settings",
            {
                **PHOTO_SETTINGS,
                options_flow.SECTION_ADVANCED: {CONF_POLL_INTERVAL: 90},
            },
            {
                **PHOTO_SETTINGS,
                CONF_RESOLUTION: 600,
                CONF_NOTIFY_SCANS: True,
                CONF_POLL_INTERVAL: 90,
                CONF_CALLBACK_URL: None,
            },
        ),
        (
            "post_scan",
            {CONF_ENDPOINT: "https://scanserver/", CONF_VERIFY_TLS: True},
            {
                CONF_POST_SCAN: {
                    CONF_ENDPOINT: "https://scanserver/",
                    CONF_VERIFY_TLS: True,
                }
            },
        ),
    ],
)
async def test_an_options_step_keeps_what_it_does_not_edit(
    hass: HomeAssistant,
    mock_setup_entry: AsyncMock,
    step: str,
    user_input: dict[str, Any],
    edited: dict[str, Any],
) -> None:
    """Each options step changes its own settings only; the others survive a save."""
    entry = entry_for(
        str(uuid.uuid4()),
        "192.0.2.40",
        ["http://192.0.2.40/wsd"],
        options=STORED_OPTIONS,
    )
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, step, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    expected = {**STORED_OPTIONS, **edited}
    assert entry.options == {
        key: value for key, value in expected.items() if value is not None
    }


@pytest.mark.parametrize(
    "url",
    [
        "192.168.1.5:8123",
        "ftp://192.168.1.5/",
        "http://h/?a=1",
        "http://[",
        "http://home assistant:8123",
        "http://user@192.168.1.5:8123",
    ],
)
async def test_options_reject_bad_callback_url(
    hass: HomeAssistant, mock_setup_entry: AsyncMock, url: str
) -> None:
    """The callback URL must be an http(s) base URL; the form keeps what was typed.

    The error is shown above the form, so the section holding the field opens.
    """
    entry = entry_for(str(uuid.uuid4()), "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "settings")
    assert suggested(result)[options_flow.SECTION_ADVANCED] == {
        CONF_POLL_INTERVAL: None,
        CONF_CALLBACK_URL: None,
    }
    user_input = {
        CONF_SOURCE: "auto",
        CONF_FORMAT: "pdf",
        CONF_RESOLUTION: "300",
        CONF_COLOR: "color",
        CONF_PAPER: "a4",
        options_flow.SECTION_ADVANCED: {
            CONF_POLL_INTERVAL: DEFAULT_POLL_INTERVAL,
            CONF_CALLBACK_URL: url,
        },
    }
    result = dict(
        await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_callback_url"}
    assert suggested(result)[options_flow.SECTION_ADVANCED][CONF_CALLBACK_URL] == url
    advanced = result["data_schema"].schema[options_flow.SECTION_ADVANCED]
    assert advanced.options == {"collapsed": False}
    assert entry.options == {}


async def test_options_poll_interval_is_bounded(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """A polling interval out of bounds is refused by the form itself."""
    entry = entry_for(str(uuid.uuid4()), "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "settings")
    with pytest.raises(probatio.Invalid):
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                CONF_SOURCE: "auto",
                CONF_FORMAT: "pdf",
                CONF_RESOLUTION: "300",
                CONF_COLOR: "color",
                CONF_PAPER: "a4",
                options_flow.SECTION_ADVANCED: {CONF_POLL_INTERVAL: 1},
            },
        )


async def start_profile_flow(
    hass: HomeAssistant, entry: MockConfigEntry, subentry_id: str | None = None
) -> dict[str, Any]:
    """Open the form that adds a profile, or changes the one with `subentry_id`."""
    if subentry_id is None:
        return dict(
            await hass.config_entries.subentries.async_init(
                (entry.entry_id, SUBENTRY_PROFILE), context={"source": SOURCE_USER}
            )
        )
    return dict(await entry.start_subentry_reconfigure_flow(hass, subentry_id))


async def configure_profile(
    hass: HomeAssistant, result: dict[str, Any], user_input: dict[str, Any]
) -> dict[str, Any]:
    """Submit a profile form."""
    return dict(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], user_input
        )
    )


def panel(entry: ConfigEntry) -> list[tuple[str, str, dict[str, Any]]]:
    """Return the entry's profiles: subentry id (ClientContext), name, stored data."""
    return [
        (subentry.subentry_id, subentry.title, dict(subentry.data))
        for subentry in entry.subentries.values()
    ]


async def test_profiles_added_changed_and_removed(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """Profiles are subentries: each change is stored and reloads the entry."""
    entry = await set_up_entry(hass, "192.0.2.40")
    hass.config_entries.async_update_entry(
        entry, options={CONF_FORMAT: "png", CONF_POLL_INTERVAL: 60}
    )
    await hass.async_block_till_done()
    assert len(mock_setup_entry.mock_calls) == 2
    # The entry from before profiles were subentries has the default profile.
    assert panel(entry) == [(DEFAULT_PROFILE_ID, "Home Assistant", {})]

    # A new profile: a name trimmed, the settings stored like the options.
    result = await start_profile_flow(hass, entry)
    assert result["step_id"] == "user"
    shown = suggested(result)
    assert shown.pop(CONF_PAPERLESS) == dict.fromkeys(PAPERLESS_FIELDS)
    assert set(shown.values()) == {None}
    result = await configure_profile(
        hass, result, {CONF_NAME: " Photos ", **PHOTO_SETTINGS}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    (default, _, _), (photos, name, data) = panel(entry)
    # Its event type is its name as a slug, fixed now: automations trigger on it.
    assert (name, data) == (
        "Photos",
        {
            **PHOTO_SETTINGS,
            CONF_RESOLUTION: 600,
            CONF_DESTINATION: "media",
            CONF_EVENT_TYPE: "photos",
        },
    )
    assert entry.options == {CONF_FORMAT: "png", CONF_POLL_INTERVAL: 60}
    assert len(mock_setup_entry.mock_calls) == 3

    # Changing a profile shows what is stored and keeps its id (its panel context).
    result = await start_profile_flow(hass, entry, photos)
    assert result["step_id"] == "reconfigure"
    assert suggested(result) == {
        CONF_NAME: "Photos",
        **PHOTO_SETTINGS,
        CONF_DESTINATION: "media",
        CONF_SKIP_BLANK: None,
        CONF_PAPERLESS: dict.fromkeys(PAPERLESS_FIELDS),
        CONF_ROTATE_BACKS: None,
        CONF_SESSION: None,
    }
    result = await configure_profile(
        hass,
        result,
        {
            CONF_NAME: "Photo",
            **PHOTO_SETTINGS,
            CONF_COLOR: "gray",
            CONF_DESTINATION: "both",
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert panel(entry)[1] == (
        photos,
        "Photo",
        {**data, CONF_COLOR: "gray", CONF_DESTINATION: "both"},
    )
    assert len(mock_setup_entry.mock_calls) == 4

    # The default profile shows the entry's defaults, which it follows until changed.
    result = await start_profile_flow(hass, entry, default)
    assert suggested(result) == {
        CONF_NAME: "Home Assistant",
        CONF_FORMAT: "png",
        CONF_SOURCE: None,
        CONF_RESOLUTION: None,
        CONF_COLOR: None,
        CONF_PAPER: None,
        CONF_DESTINATION: None,
        CONF_SKIP_BLANK: None,
        CONF_PAPERLESS: dict.fromkeys(PAPERLESS_FIELDS),
        CONF_ROTATE_BACKS: None,
        CONF_SESSION: None,
    }

    # Another "Photos" (after the rename) gets an event type of its own.
    result = await configure_profile(
        hass, await start_profile_flow(hass, entry), {CONF_NAME: "Photos!"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert panel(entry)[2][2][CONF_EVENT_TYPE] == "photos_2"
    assert len(mock_setup_entry.mock_calls) == 5

    # Deleting a profile (HA's subentry UI) reloads the entry too.
    assert hass.config_entries.async_remove_subentry(entry, default)
    await hass.async_block_till_done()
    assert [name for _, name, _ in panel(entry)] == ["Photo", "Photos!"]
    assert len(mock_setup_entry.mock_calls) == 6


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("  ", "invalid_profile_name"),
        ("x" * 128, "invalid_profile_name"),
        ("home assistant", "duplicate_profile_name"),
    ],
)
async def test_profile_names_are_checked(
    hass: HomeAssistant, mock_setup_entry: AsyncMock, name: str, error: str
) -> None:
    """Names are 1 to 127 characters and unique (case aside); the form keeps the input."""
    entry = await set_up_entry(hass, "192.0.2.40")
    result = await start_profile_flow(hass, entry)
    result = await configure_profile(hass, result, {CONF_NAME: name, **PHOTO_SETTINGS})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_NAME: error}
    assert suggested(result)[CONF_NAME] == name
    assert len(entry.subentries) == 1


async def test_profile_paperless_fields(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """The Paperless-ngx section: stored trimmed (numbers as ids), shown again, checked.

    A title with an unknown placeholder opens the section to show the error.
    """
    entry = await set_up_entry(hass, "192.0.2.40")
    fields = {
        CONF_TITLE: " {profile} {date} ",
        CONF_TAGS: ["Invoices", " ", "3"],
        CONF_CORRESPONDENT: " ACME ",
        CONF_DOCUMENT_TYPE: "",
    }
    result = await start_profile_flow(hass, entry)
    result = await configure_profile(
        hass,
        result,
        {
            CONF_NAME: "Mail",
            **PHOTO_SETTINGS,
            CONF_PAPERLESS: {**fields, CONF_TITLE: "{profile} {page}"},
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_paperless_title"}
    assert not result["data_schema"].schema[CONF_PAPERLESS].options["collapsed"]
    assert "{profile}" in result["description_placeholders"]["placeholders"]
    result = await configure_profile(
        hass, result, {CONF_NAME: "Mail", **PHOTO_SETTINGS, CONF_PAPERLESS: fields}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    mail = next(
        subentry for subentry in entry.subentries.values() if subentry.title == "Mail"
    )
    assert mail.data[CONF_PAPERLESS] == {
        CONF_TITLE: "{profile} {date}",
        CONF_TAGS: ["Invoices", 3],
        CONF_CORRESPONDENT: "ACME",
    }
    profiles = {profile.name: profile for profile in entry_profiles(entry)}
    assert profiles["Mail"].paperless == PaperlessFields(
        "{profile} {date}", ("Invoices", 3), "ACME", None, "Mail"
    )
    assert profiles["Home Assistant"].paperless == PaperlessFields(
        profile="Home Assistant"
    )

    result = await start_profile_flow(hass, entry, mail.subentry_id)
    assert result["data_schema"].schema[CONF_PAPERLESS].options["collapsed"]
    assert suggested(result)[CONF_PAPERLESS] == {
        CONF_TITLE: "{profile} {date}",
        CONF_TAGS: ["Invoices", "3"],
        CONF_CORRESPONDENT: "ACME",
        CONF_DOCUMENT_TYPE: None,
    }
    # Emptied: the documents get the defaults again.
    result = await configure_profile(
        hass, result, {CONF_NAME: "Mail", **PHOTO_SETTINGS, CONF_PAPERLESS: {}}
    )
    assert result["reason"] == "reconfigure_successful"
    assert CONF_PAPERLESS not in entry.subentries[mail.subentry_id].data


async def test_a_profile_keeps_its_own_name(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """Saving a profile under its own name (in other case) is no duplicate."""
    entry = await set_up_entry(hass, "192.0.2.40")
    result = await start_profile_flow(hass, entry, DEFAULT_PROFILE_ID)
    assert suggested(result)[CONF_NAME] == "Home Assistant"
    result = await configure_profile(
        hass, result, {CONF_NAME: "HOME ASSISTANT", **PHOTO_SETTINGS}
    )
    assert result["type"] is FlowResultType.ABORT
    assert panel(entry)[0][:2] == (DEFAULT_PROFILE_ID, "HOME ASSISTANT")


async def test_options_menu(hass: HomeAssistant, mock_setup_entry: AsyncMock) -> None:
    """The options hold the defaults and the post-scan endpoint; profiles are apart."""
    entry = entry_for(str(uuid.uuid4()), "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["menu_options"] == ["settings", "post_scan", "receive", "paperless"]


async def test_post_scan_endpoint_saved_and_removed(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """The endpoint is stored with what was filled in; an empty endpoint removes it."""
    entry = entry_for(str(uuid.uuid4()), "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_POLL_INTERVAL: 60})
    result = await open_options(hass, entry, "post_scan")
    assert result["step_id"] == "post_scan"
    filter_xml = '<f:Share xmlns:f="http://example.com/filter">\\\\srv\\scans</f:Share>'
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                CONF_ENDPOINT: " https://scanserver:5362/ScanServer/PostScan ",
                CONF_USER_IDENTIFIER: "",
                CONF_FILTERS: [filter_xml, "  "],
                CONF_VERIFY_TLS: True,
            },
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {
        CONF_POLL_INTERVAL: 60,
        CONF_POST_SCAN: {
            CONF_ENDPOINT: "https://scanserver:5362/ScanServer/PostScan",
            CONF_FILTERS: [filter_xml],
            CONF_VERIFY_TLS: True,
        },
    }

    # A host is fine too (the endpoint is looked up); no filters are not stored.
    result = await open_options(hass, entry, "post_scan")
    assert suggested(result)[CONF_ENDPOINT] == (
        "https://scanserver:5362/ScanServer/PostScan"
    )
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_ENDPOINT: "scanserver", CONF_VERIFY_TLS: True}
    )
    await hass.async_block_till_done()
    assert entry.options[CONF_POST_SCAN] == {
        CONF_ENDPOINT: "scanserver",
        CONF_VERIFY_TLS: True,
    }

    result = await open_options(hass, entry, "post_scan")
    await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_ENDPOINT: " ", CONF_VERIFY_TLS: True}
    )
    await hass.async_block_till_done()
    assert entry.options == {CONF_POLL_INTERVAL: 60}


@pytest.mark.parametrize(
    "endpoint", ["192.0.2.9:5362", "fe80::1", "[fe80::1]:5362", "scanserver.lan"]
)
async def test_post_scan_endpoint_accepts_hosts(
    hass: HomeAssistant, mock_setup_entry: AsyncMock, endpoint: str
) -> None:
    """A host, IPv6 address or `host:port` is an endpoint the directed probe can ask."""
    entry = entry_for(str(uuid.uuid4()), "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)
    result = await open_options(
        hass, entry, "post_scan", {CONF_ENDPOINT: endpoint, CONF_VERIFY_TLS: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_POST_SCAN][CONF_ENDPOINT] == endpoint


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({CONF_ENDPOINT: "ftp://scanserver/"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        ({CONF_ENDPOINT: "https://"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        ({CONF_ENDPOINT: "scanserver:99999"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        ({CONF_ENDPOINT: "scan server"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        ({CONF_ENDPOINT: "scanserver:5362/x"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        ({CONF_ENDPOINT: "scanserver?a=1"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        ({CONF_ENDPOINT: "admin@scanserver"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        ({CONF_ENDPOINT: "http://scan server/"}, {CONF_ENDPOINT: "invalid_endpoint"}),
        (
            {CONF_ENDPOINT: "scanserver", CONF_FILTERS: ["<unclosed"]},
            {CONF_FILTERS: "invalid_filter"},
        ),
        (
            {CONF_ENDPOINT: "scanserver", CONF_CA_FILE: "/nonexistent/ca.pem"},
            {CONF_CA_FILE: "invalid_ca_file"},
        ),
    ],
)
async def test_post_scan_endpoint_is_checked(
    hass: HomeAssistant,
    mock_setup_entry: AsyncMock,
    user_input: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """Bad endpoints, filters and CA files are refused; nothing is stored."""
    entry = entry_for(str(uuid.uuid4()), "192.0.2.40", ["http://192.0.2.40/wsd"])
    entry.add_to_hass(hass)
    result = await open_options(
        hass, entry, "post_scan", {**user_input, CONF_VERIFY_TLS: True}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert entry.options == {}


async def test_profile_session_and_manual_duplex_fields(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """A profile's session step and turned backs are stored only when set; shown back."""
    entry = await set_up_entry(hass, "192.0.2.41")
    result = await start_profile_flow(hass, entry)
    result = await configure_profile(
        hass,
        result,
        {
            CONF_NAME: "Both sides",
            **PHOTO_SETTINGS,
            CONF_SOURCE: "feeder_manual_duplex",
            CONF_ROTATE_BACKS: True,
            CONF_SESSION: "add",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (subentry_id, _name, data) = panel(entry)[-1]
    assert data[CONF_SOURCE] == "feeder_manual_duplex"
    assert (data[CONF_ROTATE_BACKS], data[CONF_SESSION]) == (True, "add")
    (profile,) = [p for p in entry_profiles(entry) if p.profile_id == subentry_id]
    assert profile.settings.source == "feeder"
    assert (profile.manual_duplex, profile.rotate_backs) == (True, True)
    assert profile.session == "add"

    result = await start_profile_flow(hass, entry, subentry_id)
    assert suggested(result)[CONF_SESSION] == "add"
    assert suggested(result)[CONF_ROTATE_BACKS] is True
    result = await configure_profile(
        hass,
        result,
        {
            CONF_NAME: "Both sides",
            **PHOTO_SETTINGS,
            CONF_ROTATE_BACKS: False,
            CONF_SESSION: "off",
        },
    )
    assert result["reason"] == "reconfigure_successful"
    data = panel(entry)[-1][2]
    assert CONF_ROTATE_BACKS not in data
    assert CONF_SESSION not in data


async def test_options_turn_the_backs(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """The settings step stores turned backs for the Scan button, and clears them."""
    entry = await set_up_entry(hass, "192.0.2.42")
    user_input = {
        **PHOTO_SETTINGS,
        CONF_SOURCE: "feeder_manual_duplex",
        CONF_ROTATE_BACKS: True,
        CONF_NOTIFY_SCANS: True,
        options_flow.SECTION_ADVANCED: {CONF_POLL_INTERVAL: 60},
    }
    for rotate in (True, False):
        result = await open_options(
            hass, entry, "settings", {**user_input, CONF_ROTATE_BACKS: rotate}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options[CONF_SOURCE] == "feeder_manual_duplex"
        assert entry.options.get(CONF_ROTATE_BACKS, False) is rotate
