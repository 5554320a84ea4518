"""Home Assistant as a WS-DSP scan server: our own client posts to its endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import io
from pathlib import Path
import tracemalloc

import aiohttp
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import Event, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.diagnostics import async_get_config_entry_diagnostics
from custom_components.wsd_scan.dsp_view import (
    CONF_RECEIVE_HOSTS,
    CONF_RECEIVE_POST_SCAN,
    CONF_RECEIVE_SECRET,
    EVENT_POST_SCAN_RECEIVED,
    RECEIVERS,
    client_allowed,
    client_networks,
    endpoint_path,
    new_secret,
)
from custom_components.wsd_scan.wsd import (
    PostScanClient,
    PostScanLimits,
    PostScanSettings,
    WsdError,
    WsdFault,
    post_scan,
)
from custom_components.wsd_scan.wsd.xml import DSP, build_envelope, element
from simulator import SimulatedScanner

from .ha_fixtures import SetUpScanner, until

pytestmark = pytest.mark.usefixtures("socket_enabled")

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _image(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 20, 200)).save(buffer, kind)
    return buffer.getvalue()


@pytest.fixture
def documents(tmp_path: Path) -> list[Path]:
    """Return a JPEG, a PNG and a PDF to send."""
    paths = []
    for name, data in (
        ("page.jpg", _image("JPEG")),
        ("page.png", _image("PNG")),
        ("scan.pdf", PDF),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """Provide the session of a WS-DSP client (no Home Assistant login)."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def secret() -> str:
    """Return the endpoint's secret."""
    return new_secret()


@pytest.fixture
def endpoint(callback_url: str, secret: str) -> str:
    """Return the endpoint's URL."""
    return f"{callback_url}{endpoint_path(secret)}"


def receive(secret: str, **options: object) -> dict[str, object]:
    """Return the options that turn "Receive post-scan jobs" on with `secret`."""
    return {CONF_RECEIVE_POST_SCAN: True, CONF_RECEIVE_SECRET: secret, **options}


@pytest.fixture
async def receiving(
    scanner: SimulatedScanner, set_up_scanner: SetUpScanner, secret: str
) -> MockConfigEntry:
    """Set the scanner's entry up with "Receive post-scan jobs" on."""
    return await set_up_scanner(scanner, **receive(secret))


async def start_job(
    session: aiohttp.ClientSession, endpoint: str, document: Path
) -> tuple[PostScanClient, str]:
    """Create a job at the endpoint and send it one document; return client and token."""
    client = PostScanClient(session, endpoint)
    token = await client.create_job(PostScanSettings())
    await client.send_image(token, 1, document)
    return client, token


def _library_files(media_dir: Path) -> list[Path]:
    """Files in the scan library, hidden work folders and previews left out."""
    return sorted(
        path
        for path in (media_dir / "wsd_scan").rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.parts)
    )


def _hidden_files(media_dir: Path, folder: str) -> list[Path]:
    return [path for path in media_dir.rglob(f"{folder}/**/*") if path.is_file()]


async def test_a_job_lands_byte_identical_in_the_media_library(  # noqa: PLR0917
    hass: HomeAssistant,
    receiving: MockConfigEntry,
    endpoint: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    media_dir: Path,
) -> None:
    """JPEG, PNG and PDF in one job: stored as sent, the last scan, an event."""
    events: list[Event] = []
    hass.bus.async_listen(EVENT_POST_SCAN_RECEIVED, events.append)

    status = await post_scan(
        session,
        endpoint,
        documents,
        PostScanSettings(user_identifier="S-1-5-21-7", document_root_name="Invoices"),
    )
    await hass.async_block_till_done()

    assert (status.state, status.images_received) == ("Completed", 3)
    stored = _library_files(media_dir)
    assert [path.read_bytes() for path in stored] == [
        path.read_bytes() for path in documents
    ]
    assert all(path.name.startswith("invoices_") for path in stored)
    last_scan = receiving.runtime_data.activity.last_scan
    assert last_scan is not None
    assert [file.path for file in last_scan.files] == stored
    [event] = events
    assert event.data["document_root_name"] == "Invoices"
    assert event.data["user"] == "S-1-5-21-7"
    assert event.data["job_token"] == status.job_token
    assert event.data["files"] == [str(path) for path in stored]
    assert _hidden_files(media_dir, ".incoming") == []


@pytest.mark.usefixtures("receiving")
async def test_two_jobs_at_once(
    endpoint: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    media_dir: Path,
) -> None:
    """Concurrent jobs (same name, same second) become two scans, nothing overwritten."""
    first, second = await asyncio.gather(
        post_scan(session, endpoint, documents[:1]),
        post_scan(session, endpoint, documents[1:]),
    )
    assert first.state == second.state == "Completed"
    stored = _library_files(media_dir)
    assert sorted(path.read_bytes() for path in stored) == sorted(
        path.read_bytes() for path in documents
    )


@pytest.mark.usefixtures("receiving")
async def test_cancel_mid_job_leaves_nothing(
    endpoint: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    media_dir: Path,
) -> None:
    """A cancelled job's documents are neither stored nor left in the spool."""
    client, token = await start_job(session, endpoint, documents[0])
    assert len(_hidden_files(media_dir, ".incoming")) == 1

    await client.cancel_job(token)

    assert _hidden_files(media_dir, ".incoming") == []
    assert _library_files(media_dir) == []


@pytest.mark.usefixtures("receiving")
@pytest.mark.parametrize(
    "path", ["wrong", "", new_secret()], ids=["wrong", "empty", "another secret"]
)
async def test_a_wrong_secret_is_not_found(
    callback_url: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    media_dir: Path,
    path: str,
) -> None:
    """404 without reading the job: nothing stored, nothing spooled."""
    with pytest.raises(WsdError, match="404"):
        await post_scan(session, f"{callback_url}{endpoint_path(path)}", documents)
    assert _library_files(media_dir) == []
    assert _hidden_files(media_dir, ".incoming") == []


async def test_off_by_default_and_gone_with_the_entry(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    callback_url: str,
    secret: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    set_up_scanner: SetUpScanner,
) -> None:
    """Without the option there is no endpoint; unloading the entry ends it."""
    url = f"{callback_url}{endpoint_path(secret)}"
    entry = await set_up_scanner(scanner, **{CONF_RECEIVE_SECRET: secret})
    with pytest.raises(WsdError, match="404"):
        await post_scan(session, url, documents)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_remove(entry.entry_id)

    entry = await set_up_scanner(scanner, **receive(secret))
    assert (await post_scan(session, url, documents[:1])).state == "Completed"
    assert await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(WsdError, match="404"):
        await post_scan(session, url, documents[:1])


async def test_a_restart_during_a_job_leaves_no_partial_files(  # noqa: PLR0917
    hass: HomeAssistant,
    receiving: MockConfigEntry,
    endpoint: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    media_dir: Path,
) -> None:
    """Documents of a job cut off by a reload are removed; the next start is clean."""
    client, token = await start_job(session, endpoint, documents[0])
    assert await hass.config_entries.async_reload(receiving.entry_id)
    await until(lambda: not _hidden_files(media_dir, ".incoming"))

    with pytest.raises(WsdError, match="unknown JobToken"):
        await client.end_job(token)
    assert _library_files(media_dir) == []


@pytest.mark.usefixtures("receiving")
async def test_a_job_that_cannot_be_stored_fails_and_leaves_nothing(
    endpoint: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    media_dir: Path,
) -> None:
    """A scanner folder that cannot take the scan: the client hears an error."""
    library = media_dir / "wsd_scan"
    scans = next(library.iterdir()) / ".scans"
    scans.write_bytes(b"")  # not a folder: no scan can be published
    with pytest.raises(WsdError, match="ServerErrorInternalError"):
        await post_scan(session, endpoint, documents[:1])
    assert _hidden_files(media_dir, ".incoming") == []


async def test_an_oversized_document_is_refused_with_bounded_memory(  # noqa: PLR0917
    hass: HomeAssistant,
    receiving: MockConfigEntry,
    endpoint: str,
    secret: str,
    tmp_path: Path,
    media_dir: Path,
) -> None:
    """A document past the cap: a fault, nothing stored, memory far below its size."""
    hass.data[RECEIVERS][secret].server.limits = PostScanLimits(
        max_document_size=1024**2
    )
    big = tmp_path / "big.jpg"
    size = 32 * 1024**2
    with big.open("wb") as file:
        file.write(b"\xff\xd8\xff\xe0")
        file.truncate(size)
    tracemalloc.start()
    try:
        # Its own session, closed before the checks: the server reads the rest of a
        # refused body until the client hangs up (aiohttp's lingering close).
        async with aiohttp.ClientSession() as session:
            with pytest.raises(WsdFault) as fault:
                await post_scan(session, endpoint, [big])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fault.value.subcode == "InvalidArgs"
    assert peak < size / 4, f"peak {peak} bytes for {size} sent"
    assert _library_files(media_dir) == []
    assert _hidden_files(media_dir, ".incoming") == []


@pytest.mark.usefixtures("receiving")
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "application/soap+xml",
        ),
        (
            b"--b\r\nContent-Type: text/xml\r\n\r\n<broken",
            'multipart/related; boundary="b"',
        ),
    ],
    ids=["hostile-xml", "malformed-mtom"],
)
async def test_hostile_requests_are_faults(
    endpoint: str,
    session: aiohttp.ClientSession,
    media_dir: Path,
    body: bytes,
    content_type: str,
) -> None:
    """Hostile XML and broken MIME get an InvalidArgs fault; nothing is kept."""
    async with session.post(
        endpoint, data=body, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == 400
        assert b"InvalidArgs" in await response.read()
    assert _hidden_files(media_dir, ".incoming") == []


async def test_diagnostics_redact_the_secret(
    hass: HomeAssistant, receiving: MockConfigEntry, secret: str
) -> None:
    """The secret is the key to the endpoint: diagnostics leave it out."""
    diagnostics = await async_get_config_entry_diagnostics(hass, receiving)
    assert diagnostics["entry"]["options"][CONF_RECEIVE_SECRET] == "**REDACTED**"
    assert secret not in str(diagnostics)


async def _receive_step(
    hass: HomeAssistant, entry: MockConfigEntry, **user_input: object
) -> ConfigFlowResult:
    """Submit the options flow's receive step; return what it shows next."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "receive"}
    )
    assert result["step_id"] == "receive"
    return await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )


async def test_the_option_turns_receiving_on_shows_and_rotates_the_address(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    callback_url: str,
    session: aiohttp.ClientSession,
    documents: list[Path],
    set_up_scanner: SetUpScanner,
) -> None:
    """On: a secret is made and its address shown; rotated: the old address is gone."""
    entry = await set_up_scanner(scanner)

    result = await _receive_step(hass, entry, receive_post_scan=True)
    assert result["step_id"] == "receive_url"
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    secret = placeholders["url"].rpartition("/")[2]
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_RECEIVE_SECRET] == secret
    assert len(secret) >= 43
    url = f"{callback_url}{endpoint_path(secret)}"
    assert (await post_scan(session, url, documents[:1])).state == "Completed"

    result = await _receive_step(
        hass, entry, receive_post_scan=True, rotate_secret=True
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    assert entry.options[CONF_RECEIVE_SECRET] != secret
    with pytest.raises(WsdError, match="404"):
        await post_scan(session, url, documents[:1])

    result = await _receive_step(hass, entry, receive_post_scan=False)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_RECEIVE_POST_SCAN] is False
    new_url = f"{callback_url}{endpoint_path(entry.options[CONF_RECEIVE_SECRET])}"
    with pytest.raises(WsdError, match="404"):
        await post_scan(session, new_url, documents[:1])


async def test_without_a_media_folder_nothing_is_served(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    secret: str,
    caplog: pytest.LogCaptureFixture,
    set_up_scanner: SetUpScanner,
) -> None:
    """No media folder: the scanner works, the endpoint is absent and a warning says why."""
    hass.config.media_dirs = {}
    await set_up_scanner(scanner, **receive(secret))
    assert "cannot receive post-scan jobs" in caplog.text
    assert secret not in hass.data[RECEIVERS]


@pytest.mark.parametrize(
    ("clients", "status"),
    [(["127.0.0.2"], 404), (["10.0.0.0/8", "127.0.0.0/8"], 400)],
    ids=["other address", "allowed network"],
)
async def test_only_allowed_clients_reach_the_endpoint(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    endpoint: str,
    secret: str,
    session: aiohttp.ClientSession,
    clients: list[str],
    status: int,
    set_up_scanner: SetUpScanner,
) -> None:
    """With allowed clients set, anyone else gets the unknown secret's 404."""
    await set_up_scanner(scanner, **receive(secret, **{CONF_RECEIVE_HOSTS: clients}))
    request = build_envelope(
        f"{DSP}/GetPostScanJobElements",
        endpoint,
        element("dsp:GetPostScanJobElementsRequest"),
    )
    async with session.post(
        endpoint,
        data=request,
        headers={"Content-Type": "application/soap+xml"},
    ) as response:
        # The server itself answers this request without a job with a fault (400).
        assert response.status == status


async def test_the_option_checks_the_allowed_clients(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    set_up_scanner: SetUpScanner,
) -> None:
    """Addresses and networks are accepted; anything else is shown as an error."""
    entry = await set_up_scanner(scanner)
    result = await _receive_step(
        hass,
        entry,
        receive_post_scan=True,
        receive_post_scan_hosts=["192.168.1.0/24", "not an address"],
    )
    assert result["errors"] == {CONF_RECEIVE_HOSTS: "invalid_receive_hosts"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_RECEIVE_POST_SCAN: True,
            CONF_RECEIVE_HOSTS: [" 192.168.1.0/24 ", "", "fd00::1"],
        },
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    assert entry.options[CONF_RECEIVE_HOSTS] == ["192.168.1.0/24", "fd00::1"]


@pytest.mark.parametrize(
    ("remote", "allowed"),
    [
        ("192.168.1.20", True),
        ("::ffff:192.168.1.20", True),
        ("fe80::1%eth0", True),
        ("192.168.2.1", False),
        (None, False),
        ("not an address", False),
    ],
)
def test_client_addresses_are_compared_as_addresses(
    remote: str | None, allowed: bool
) -> None:
    """IPv4-mapped IPv6 is its IPv4 address, a zone is ignored; garbage never matches."""
    clients = client_networks(["192.168.1.0/24", "fe80::/10"])
    assert client_allowed(clients, remote) is allowed
    assert client_allowed((), remote)
