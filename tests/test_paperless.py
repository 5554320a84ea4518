"""Scans handed to Paperless-ngx: a small fake of its REST API served over loopback."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
from pathlib import Path
from typing import Any
import uuid

from aiohttp import BodyPartReader, web
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan import paperless
from custom_components.wsd_scan.const import (
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_DESTINATION,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_PAPERLESS,
    CONF_RESOLUTION,
    CONF_SKIP_BLANK,
    CONF_SOURCE,
    CONF_TAGS,
    CONF_XADDRS,
    DOMAIN,
    Destination,
)
from custom_components.wsd_scan.diagnostics import async_get_config_entry_diagnostics
from custom_components.wsd_scan.paperless import (
    PaperlessClient,
    PaperlessError,
    PaperlessTarget,
)
from custom_components.wsd_scan.profiles import SUBENTRY_PROFILE, entry_profiles
from custom_components.wsd_scan.storage import StoredFile, StoredScan
from simulator import SimulatedScanner

from .ha_fixtures import scan, scanner_entry

TOKEN = "0123456789abcdef"

pytestmark = pytest.mark.usefixtures("socket_enabled")


@dataclass
class Upload:
    """A document the fake received."""

    title: str
    tags: list[str]
    file_name: str
    digest: str


@dataclass
class FakePaperless:
    """What the fake Paperless-ngx received, and how it behaves."""

    url: str = ""
    uploads: list[Upload] = field(default_factory=list)
    #: Looks at a task that answer PENDING before it ends.
    pending_polls: int = 1
    #: The message of a consumption that fails; None: consumption succeeds.
    failure: str | None = None
    tasks: dict[str, int] = field(default_factory=dict)


def _authorized(request: web.Request) -> None:
    if request.headers.get("Authorization") != f"Token {TOKEN}":
        raise web.HTTPUnauthorized(text='{"detail": "Invalid token."}')


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[FakePaperless]:
    """Serve a fake Paperless-ngx API on loopback: real HTTP, real multipart parsing."""
    fake = FakePaperless()

    async def api_root(request: web.Request) -> web.Response:
        _authorized(request)
        return web.json_response({"documents": f"{fake.url}/api/documents/"})

    async def post_document(request: web.Request) -> web.Response:
        _authorized(request)
        fields: dict[str, list[str]] = {"title": [], "tags": []}
        document: tuple[str, str] | None = None
        async for part in await request.multipart():
            assert isinstance(part, BodyPartReader)
            if part.name == "document":
                digest = hashlib.sha256()
                while chunk := await part.read_chunk():
                    digest.update(chunk)
                document = (part.filename or "", digest.hexdigest())
            else:
                fields[str(part.name)].append(await part.text())
        assert document is not None
        fake.uploads.append(Upload(fields["title"][0], fields["tags"], *document))
        task_id = str(uuid.uuid4())
        fake.tasks[task_id] = 0
        return web.json_response(task_id)

    async def tasks(request: web.Request) -> web.Response:
        _authorized(request)
        task_id = request.query["task_id"]
        polls = fake.tasks[task_id] = fake.tasks[task_id] + 1
        task: dict[str, object] = {"task_id": task_id, "status": "PENDING"}
        if polls > fake.pending_polls and fake.failure is not None:
            task.update(status="FAILURE", result=fake.failure)
        elif polls > fake.pending_polls:
            task.update(status="SUCCESS", related_document=len(fake.uploads))
        return web.json_response([task])

    app = web.Application()
    app.router.add_get("/paperless/api/", api_root)
    app.router.add_post("/paperless/api/documents/post_document/", post_document)
    app.router.add_get("/paperless/api/tasks/", tasks)
    # No lingering close: a request refused before its body is read (an unknown path)
    # would otherwise keep its handler reading the rest past the test.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1, lingering_time=0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/paperless"
    yield fake
    await runner.cleanup()


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look at a consumption task again at once."""
    monkeypatch.setattr(paperless, "TASK_POLL_INTERVAL", 0)


def stored_scan(folder: Path, *names: str) -> StoredScan:
    """Return a scan in the library whose files hold their own names."""
    files = []
    for name in names:
        path = folder / name
        path.write_bytes(name.encode() * 1000)
        files.append(StoredFile(path, path.stat().st_size, "application/pdf"))
    return StoredScan(
        folder=folder,
        name="letter",
        created=datetime(2026, 1, 2, tzinfo=UTC),
        scanner="uuid",
        files=tuple(files),
        previews=(),
        pages=len(names),
        complete=True,
        duration=1.0,
    )


def target(hass: HomeAssistant, url: str, token: str = TOKEN) -> PaperlessTarget:
    """Return the Paperless-ngx destination of an entry configured with it."""
    options = {CONF_PAPERLESS: {CONF_URL: url, CONF_TOKEN: token, CONF_TAGS: [3, 7]}}
    found = PaperlessTarget.from_options(hass, "entry", "Office MFP", options)
    assert found is not None
    return found


async def test_upload_follows_the_task(
    hass: HomeAssistant, server: FakePaperless, tmp_path: Path
) -> None:
    """Each file becomes a document with the scan's title and the tags; its link is known."""
    server.pending_polls = 2
    scan = stored_scan(tmp_path, "letter-001.jpg", "letter-002.jpg")
    documents = await target(hass, server.url).async_send(scan)
    assert [upload.title for upload in server.uploads] == ["letter-1", "letter-2"]
    assert [upload.file_name for upload in server.uploads] == [
        "letter-001.jpg",
        "letter-002.jpg",
    ]
    assert all(upload.tags == ["3", "7"] for upload in server.uploads)
    assert [upload.digest for upload in server.uploads] == [
        hashlib.sha256(file.path.read_bytes()).hexdigest() for file in scan.files
    ]
    assert [document.document_id for document in documents] == [1, 2]
    assert documents[0].url == f"{server.url}/documents/1/details"
    assert documents[0].task_id in server.tasks
    assert all(polls == 3 for polls in server.tasks.values())
    assert PaperlessTarget.from_options(hass, "entry", "Office MFP", {}) is None


@dataclass(frozen=True)
class Failure:
    """How an upload fails, and what the error says."""

    message: str
    consumption: str | None = None
    token: str = TOKEN
    path: str = "/paperless"
    pending_polls: int = 1
    polls: int | None = None


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            Failure("duplicate", "Not consuming letter: It is a duplicate."),
            id="consumption failed",
        ),
        pytest.param(Failure("token was refused", token="wrong"), id="token refused"),
        pytest.param(Failure("HTTP 404", path="/elsewhere"), id="no api"),
        pytest.param(
            Failure("did not end in time", pending_polls=10**6, polls=3),
            id="task never ends",
        ),
    ],
)
async def test_failure_keeps_the_files_and_raises_an_issue(
    hass: HomeAssistant,
    server: FakePaperless,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: Failure,
) -> None:
    """A failed upload names the files kept and raises a repair issue, until one works."""
    server.failure = case.consumption
    server.pending_polls = case.pending_polls
    if case.polls is not None:
        monkeypatch.setattr(paperless, "_TASK_POLLS", case.polls)
    destination = target(hass, server.url.replace("/paperless", case.path), case.token)
    scan = stored_scan(tmp_path, "letter.pdf")
    with pytest.raises(HomeAssistantError) as err:
        await destination.async_send(scan)
    assert err.value.translation_key == "paperless_failed"
    placeholders = err.value.translation_placeholders
    assert placeholders is not None
    assert case.message in placeholders["error"]
    assert placeholders["files"] == str(tmp_path / "letter.pdf")
    assert (tmp_path / "letter.pdf").is_file()
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, destination.issue_id) is not None
    working = target(hass, server.url)
    server.failure, server.pending_polls = None, 0
    await working.async_send(scan)
    assert issues.async_get_issue(DOMAIN, destination.issue_id) is None


async def test_connection_check(
    hass: HomeAssistant, server: FakePaperless, closed_port: int
) -> None:
    """The options' check: the API answers and takes the token; nobody listening fails."""
    session = async_get_clientsession(hass)
    await PaperlessClient(session, server.url + "/", TOKEN).async_check()
    with pytest.raises(PaperlessError) as err:
        await PaperlessClient(session, server.url, "wrong").async_check()
    assert err.value.auth
    closed = f"http://127.0.0.1:{closed_port}/paperless"
    with pytest.raises(PaperlessError) as err:
        await PaperlessClient(session, closed, TOKEN).async_check()
    assert not err.value.auth


async def test_scan_action_to_paperless(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    callback_url: str,
    server: FakePaperless,
) -> None:
    """Paperless-ngx gets the stored PDF; alone, the scan then leaves the library."""
    entry = scanner_entry(
        scanner,
        **{
            CONF_CALLBACK_URL: callback_url,
            CONF_PAPERLESS: {CONF_URL: server.url, CONF_TOKEN: TOKEN, CONF_TAGS: [5]},
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    kept = await scan(
        hass,
        scanner.uuid,
        source="platen",
        destination="media_and_paperless",
        skip_blank=50,
    )
    (file,) = kept["files"]
    assert kept["blank_pages_skipped"] == 0
    assert kept["paperless"] == [
        {
            "task_id": kept["paperless"][0]["task_id"],
            "document_id": 1,
            "url": f"{server.url}/documents/1/details",
        }
    ]
    assert (
        server.uploads[0].digest
        == hashlib.sha256(Path(file["path"]).read_bytes()).hexdigest()
    )
    assert server.uploads[0].tags == ["5"]

    only = await scan(hass, scanner.uuid, source="platen", destination="paperless")
    assert only["files"] == []
    assert only["paperless"][0]["document_id"] == 2
    assert entry.runtime_data.activity.last_scan is not None
    assert entry.runtime_data.activity.last_scan.files[0].path == Path(file["path"])
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["entry"]["options"][CONF_PAPERLESS] == {
        CONF_URL: "**REDACTED**",
        CONF_TOKEN: "**REDACTED**",
        CONF_TAGS: [5],
    }
    await hass.config_entries.async_unload(entry.entry_id)


async def test_scan_action_without_paperless(
    hass: HomeAssistant, scanner: SimulatedScanner, callback_url: str
) -> None:
    """Asking for Paperless-ngx when none is configured is the request's fault."""
    entry = scanner_entry(scanner, **{CONF_CALLBACK_URL: callback_url})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, source="platen", destination="paperless")
    assert err.value.translation_key == "no_paperless"
    await hass.config_entries.async_unload(entry.entry_id)


def unloaded_entry(hass: HomeAssistant, **options: Any) -> MockConfigEntry:
    """Return a scanner's entry (not set up: its options are what is looked at)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=str(uuid.uuid4()),
        data={CONF_HOST: "192.0.2.40", CONF_XADDRS: ["http://192.0.2.40/wsd"]},
        options=options,
    )
    entry.add_to_hass(hass)
    return entry


async def paperless_form(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any] | None
) -> dict[str, Any]:
    """Open the options' Paperless-ngx step and submit `user_input`, if any."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "paperless"}
    )
    if user_input is None:
        return dict(result)
    return dict(
        await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    )


async def test_options_save_a_checked_server(
    hass: HomeAssistant, server: FakePaperless
) -> None:
    """Saved once the server takes the token, shown again; an empty URL removes it."""
    entry = unloaded_entry(hass)
    result = await paperless_form(
        hass,
        entry,
        {CONF_URL: f" {server.url}/ ", CONF_TOKEN: TOKEN, CONF_TAGS: ["3", " ", "12"]},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_PAPERLESS] == {
        CONF_URL: server.url,
        CONF_TOKEN: TOKEN,
        CONF_TAGS: [3, 12],
    }
    shown = await paperless_form(hass, entry, None)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in shown["data_schema"].schema
        if key.description
    }
    assert suggested[CONF_TAGS] == ["3", "12"]
    result = await paperless_form(hass, entry, {CONF_URL: " "})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_PAPERLESS not in entry.options


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({CONF_URL: "ftp://paperless"}, {CONF_URL: "invalid_paperless_url"}),
        ({CONF_URL: "{url}"}, {CONF_TOKEN: "invalid_auth"}),
        (
            {CONF_URL: "{url}", CONF_TOKEN: TOKEN, CONF_TAGS: ["inbox"]},
            {CONF_TAGS: "invalid_tags"},
        ),
        ({CONF_URL: "{url}", CONF_TOKEN: "wrong"}, {"base": "invalid_auth"}),
        (
            {CONF_URL: "http://127.0.0.1:{closed_port}/", CONF_TOKEN: TOKEN},
            {"base": "cannot_connect"},
        ),
    ],
)
async def test_options_refuse_what_does_not_work(
    hass: HomeAssistant,
    server: FakePaperless,
    closed_port: int,
    user_input: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """A bad URL, no token, tags by name, a refused token, no server: nothing saved."""
    entry = unloaded_entry(hass)
    user_input[CONF_URL] = user_input[CONF_URL].format(
        url=server.url, closed_port=closed_port
    )
    result = await paperless_form(hass, entry, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert CONF_PAPERLESS not in entry.options


async def test_profile_skips_blank_pages(hass: HomeAssistant) -> None:
    """A profile stores its blank page sensitivity, and the panel scans with it."""
    entry = unloaded_entry(hass)
    settings = {
        CONF_SOURCE: "feeder_duplex",
        CONF_FORMAT: "pdf",
        CONF_RESOLUTION: "300",
        CONF_COLOR: "gray",
        CONF_PAPER: "a4",
        CONF_DESTINATION: "media_and_paperless",
    }
    for name, extra in (("Paperless", {CONF_SKIP_BLANK: 40.0}), ("Photos", {})):
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_PROFILE), context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {CONF_NAME: name, **settings, **extra}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
    profiles = {profile.name: profile for profile in entry_profiles(entry)}
    assert profiles["Paperless"].skip_blank == 40
    assert profiles["Paperless"].destination is Destination.MEDIA_AND_PAPERLESS
    assert profiles["Photos"].skip_blank is None
