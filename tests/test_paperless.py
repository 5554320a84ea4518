"""Scans handed to Paperless-ngx: a small fake of its REST API served over loopback."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
import hashlib
from pathlib import Path
from typing import Any
import uuid

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan import paperless
from custom_components.wsd_scan.const import (
    CONF_COLOR,
    CONF_CORRESPONDENT,
    CONF_CREATE_MISSING,
    CONF_DESTINATION,
    CONF_FORMAT,
    CONF_PAPER,
    CONF_PAPERLESS,
    CONF_PROFILE_ID,
    CONF_PROFILES,
    CONF_RESOLUTION,
    CONF_SKIP_BLANK,
    CONF_SOURCE,
    CONF_TAGS,
    CONF_TITLE,
    CONF_XADDRS,
    DOMAIN,
    Destination,
)
from custom_components.wsd_scan.diagnostics import async_get_config_entry_diagnostics
from custom_components.wsd_scan.paperless import (
    Collection,
    PaperlessClient,
    PaperlessError,
    PaperlessFields,
    PaperlessTarget,
    check_title,
)
from custom_components.wsd_scan.profiles import SUBENTRY_PROFILE, entry_profiles
from custom_components.wsd_scan.storage import StoredFile, StoredScan
from simulator import SimulatedScanner

from .ha_fixtures import SetUpScanner, entity_id, scan
from .paperless_fake import TOKEN, FakePaperless, serve_paperless

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[FakePaperless]:
    """Serve the fake Paperless-ngx API on loopback."""
    async with serve_paperless() as fake:
        yield fake


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


def paperless_options(
    url: str, tag_ids: list[int], token: str = TOKEN, **config: Any
) -> dict[str, Any]:
    """Return the options of an entry whose scans may go to the Paperless-ngx at `url`.

    `config` goes beside the URL, token and tags (its own tags win).
    """
    return {
        CONF_PAPERLESS: {CONF_URL: url, CONF_TOKEN: token, CONF_TAGS: tag_ids, **config}
    }


def target(
    hass: HomeAssistant, url: str, token: str = TOKEN, **config: Any
) -> PaperlessTarget:
    """Return the Paperless-ngx destination of an entry configured with it."""
    options = paperless_options(url, [3, 7], token, **config)
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
    server: FakePaperless,
    set_up_scanner: SetUpScanner,
) -> None:
    """Paperless-ngx gets the stored PDF; alone, the scan then leaves the library."""
    entry = await set_up_scanner(scanner, **paperless_options(server.url, [5]))
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


async def test_scan_action_without_paperless(
    hass: HomeAssistant, scanner: SimulatedScanner, set_up_scanner: SetUpScanner
) -> None:
    """Asking for Paperless-ngx when none is configured is the request's fault."""
    await set_up_scanner(scanner)
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, source="platen", destination="paperless")
    assert err.value.translation_key == "no_paperless"


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
    """Saved once the server takes the token, shown again; an empty URL removes it.

    Tags are ids (numbers) or names, which must exist unless they may be created.
    """
    server.add("tags", "Inbox")
    entry = unloaded_entry(hass)
    result = await paperless_form(
        hass,
        entry,
        {
            CONF_URL: f" {server.url}/ ",
            CONF_TOKEN: TOKEN,
            CONF_TAGS: ["3", " ", "inbox ", "12"],
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_PAPERLESS] == {
        CONF_URL: server.url,
        CONF_TOKEN: TOKEN,
        CONF_TAGS: [3, "inbox", 12],
        CONF_CREATE_MISSING: False,
    }
    assert server.lookups == [("tags", "inbox")]
    shown = await paperless_form(hass, entry, None)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in shown["data_schema"].schema
        if key.description
    }
    assert suggested[CONF_TAGS] == ["3", "inbox", "12"]
    result = await paperless_form(
        hass,
        entry,
        {
            CONF_URL: server.url,
            CONF_TOKEN: TOKEN,
            CONF_TAGS: ["Later"],
            CONF_CREATE_MISSING: True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_PAPERLESS][CONF_TAGS] == ["Later"]
    assert entry.options[CONF_PAPERLESS][CONF_CREATE_MISSING]
    assert server.created == []
    result = await paperless_form(hass, entry, {CONF_URL: " "})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_PAPERLESS not in entry.options


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({CONF_URL: "ftp://paperless"}, {CONF_URL: "invalid_paperless_url"}),
        ({CONF_URL: "{url}"}, {CONF_TOKEN: "invalid_auth"}),
        (
            {CONF_URL: "{url}", CONF_TOKEN: TOKEN, CONF_TAGS: ["Nowhere"]},
            {CONF_TAGS: "paperless_tag_missing"},
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
    """A bad URL, no token, a missing tag, a refused token, no server: nothing saved."""
    entry = unloaded_entry(hass)
    user_input[CONF_URL] = user_input[CONF_URL].format(
        url=server.url, closed_port=closed_port
    )
    result = await paperless_form(hass, entry, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert CONF_PAPERLESS not in entry.options


async def add_profile(
    hass: HomeAssistant, entry: MockConfigEntry, fields: dict[str, Any]
) -> dict[str, Any]:
    """Submit the form that adds a profile whose documents get `fields`."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_PROFILE), context={"source": SOURCE_USER}
    )
    return dict(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {
                CONF_NAME: "Mail",
                CONF_SOURCE: "feeder",
                CONF_FORMAT: "pdf",
                CONF_RESOLUTION: "300",
                CONF_COLOR: "gray",
                CONF_PAPER: "a4",
                CONF_DESTINATION: "paperless",
                CONF_PAPERLESS: fields,
            },
        )
    )


async def test_a_profile_names_only_what_paperless_has(
    hass: HomeAssistant, server: FakePaperless
) -> None:
    """A name the server lacks and may not create is refused when the profile is saved."""
    server.add("tags", "Inbox")
    server.add("correspondents", "ACME")
    entry = unloaded_entry(hass, **paperless_options(server.url, []))
    fields = {CONF_TAGS: ["inbox", "Nowhere"], CONF_CORRESPONDENT: "ACME"}
    result = await add_profile(hass, entry, fields)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "paperless_name_missing"}
    assert result["description_placeholders"]["missing"] == "Nowhere"
    # The section holding the names is open to show them.
    assert not result["data_schema"].schema[CONF_PAPERLESS].options["collapsed"]

    result = await add_profile(hass, entry, {**fields, CONF_TAGS: ["inbox"]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert server.lookups[-2:] == [("tags", "inbox"), ("correspondents", "ACME")]
    assert server.created == []


@pytest.mark.parametrize(
    "options",
    [
        # Missing names are created at the first scan.
        {CONF_CREATE_MISSING: True},
        # Out of reach now: its scans will say what is wrong.
        {CONF_TOKEN: "wrong"},
    ],
)
async def test_a_profile_is_saved_when_names_cannot_fail(
    hass: HomeAssistant, server: FakePaperless, options: dict[str, Any]
) -> None:
    """Names are not held against a profile when the server may create them or is away."""
    config = paperless_options(server.url, [])[CONF_PAPERLESS] | options
    entry = unloaded_entry(hass, **{CONF_PAPERLESS: config})
    result = await add_profile(hass, entry, {CONF_TAGS: ["Nowhere"]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert server.created == []


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


async def test_names_are_looked_up(
    hass: HomeAssistant, server: FakePaperless, tmp_path: Path
) -> None:
    """Tags, correspondent and document type by name get the ids Paperless has."""
    inbox = server.add("tags", "Inbox")
    invoices = server.add("tags", "Invoices")
    acme = server.add("correspondents", "ACME")
    invoice = server.add("document_types", "Invoice")
    destination = target(hass, server.url, **{CONF_TAGS: [3, "inbox"]})
    fields = PaperlessFields(
        tags=("INVOICES", 3), correspondent="acme", document_type="Invoice"
    )
    await destination.async_send(stored_scan(tmp_path, "letter.pdf"), fields)
    (upload,) = server.uploads
    assert upload.tags == [str(tag) for tag in (3, inbox, invoices)]
    assert (upload.correspondent, upload.document_type) == (str(acme), str(invoice))
    assert server.created == []


async def test_unexpected_lookup_answer(
    hass: HomeAssistant, server: FakePaperless
) -> None:
    """A lookup answered without an id is an error, not a guess."""
    server.add("tags", "Inbox")
    server.without_ids = True
    client = PaperlessClient(async_get_clientsession(hass), server.url, TOKEN)
    with pytest.raises(PaperlessError, match="unexpected answer"):
        await client.async_resolve(Collection.TAGS, "Inbox", create=False)


async def test_missing_names_are_created_when_allowed(
    hass: HomeAssistant, server: FakePaperless, tmp_path: Path
) -> None:
    """With creation allowed, a missing name is created once, then found."""
    destination = target(hass, server.url, **{CONF_CREATE_MISSING: True})
    fields = PaperlessFields(
        tags=("Receipts",), correspondent="Grocer", document_type="Receipt"
    )
    scan = stored_scan(tmp_path, "receipt.pdf")
    await destination.async_send(scan, fields)
    await destination.async_send(scan, fields)
    assert server.created == [
        ("tags", "Receipts"),
        ("correspondents", "Grocer"),
        ("document_types", "Receipt"),
    ]
    ids = {
        name: str(known)
        for names in server.names.values()
        for known, name in names.items()
    }
    for upload in server.uploads:
        assert upload.tags == ["3", "7", ids["Receipts"]]
        assert upload.correspondent == ids["Grocer"]
        assert upload.document_type == ids["Receipt"]


async def test_missing_name_without_permission_keeps_the_scan(
    hass: HomeAssistant, server: FakePaperless, tmp_path: Path
) -> None:
    """A missing name that may not be created: nothing uploaded, files kept, an issue."""
    destination = target(hass, server.url)
    fields = PaperlessFields(correspondent="Nobody")
    scan = stored_scan(tmp_path, "letter.pdf")
    with pytest.raises(HomeAssistantError) as err:
        await destination.async_send(scan, fields)
    assert err.value.translation_key == "paperless_missing"
    placeholders = err.value.translation_placeholders
    assert placeholders is not None
    assert placeholders["missing"] == "Nobody"
    assert placeholders["files"] == str(tmp_path / "letter.pdf")
    assert (tmp_path / "letter.pdf").is_file()
    assert server.uploads == []
    assert server.created == []
    issues = ir.async_get(hass)
    issue = issues.async_get_issue(DOMAIN, destination.issue_id)
    assert issue is not None
    assert issue.translation_key == "paperless_missing"
    server.add("correspondents", "Nobody")
    await destination.async_send(scan, fields)
    assert issues.async_get_issue(DOMAIN, destination.issue_id) is None


async def test_title_template(
    hass: HomeAssistant, server: FakePaperless, tmp_path: Path
) -> None:
    """The title template is filled in; an empty placeholder leaves no gap."""
    scan = stored_scan(tmp_path, "letter.pdf")
    created = dt_util.as_local(scan.created)
    destination = target(hass, server.url)
    for fields in (
        PaperlessFields(
            title="{profile}: {name} {date} {time} ({device})", profile="Mail"
        ),
        PaperlessFields(title="{profile} {name}"),
        PaperlessFields.from_config({CONF_TITLE: " "}),
    ):
        await destination.async_send(scan, fields)
    assert [upload.title for upload in server.uploads] == [
        f"Mail: letter {created:%Y-%m-%d} {created:%H:%M} (Office MFP)",
        "letter",
        "letter",
    ]
    with pytest.raises(ServiceValidationError) as err:
        check_title("{name} {page}")
    assert err.value.translation_key == "invalid_paperless_title"


async def test_panel_profile_to_paperless(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    server: FakePaperless,
    set_up_scanner: SetUpScanner,
) -> None:
    """A press on a Paperless profile: its title, tags and names; the job sensor links it."""
    acme = server.add("correspondents", "ACME")
    await set_up_scanner(
        scanner,
        **paperless_options(server.url, [5]),
        **{
            CONF_PROFILES: [
                {
                    CONF_PROFILE_ID: "paperless",
                    CONF_NAME: "Paperless",
                    CONF_SOURCE: "platen",
                    CONF_RESOLUTION: 75,
                    CONF_DESTINATION: "paperless",
                    CONF_PAPERLESS: {
                        CONF_TITLE: "{profile} {date}",
                        CONF_TAGS: [8],
                        CONF_CORRESPONDENT: "ACME",
                    },
                }
            ],
        },
    )

    assert scanner.service.press_scan_button("Paperless") is not None
    await scanner.wait_for_notifications()
    await hass.async_block_till_done(wait_background_tasks=True)
    (upload,) = server.uploads
    assert upload.title == f"Paperless {dt_util.now():%Y-%m-%d}"
    assert upload.tags == ["5", "8"]
    assert upload.correspondent == str(acme)
    state = hass.states.get(
        entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    )
    assert state is not None
    (document,) = state.attributes["paperless_documents"]
    assert document["document_id"] == 1
    assert document["url"] == f"{server.url}/documents/1/details"


async def test_action_overrides(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    server: FakePaperless,
    set_up_scanner: SetUpScanner,
) -> None:
    """The action's Paperless fields; a title with an unknown placeholder scans nothing."""
    invoices = server.add("tags", "Invoices")
    invoice = server.add("document_types", "Invoice")
    entry = await set_up_scanner(scanner, **paperless_options(server.url, []))
    response = await scan(
        hass,
        scanner.uuid,
        source="platen",
        destination="paperless",
        paperless_title="{device} {name}",
        paperless_tags=["invoices", "12"],
        paperless_document_type="Invoice",
    )
    (upload,) = server.uploads
    assert (
        upload.title
        == f"{entry.runtime_data.device.name} {Path(upload.file_name).stem}"
    )
    assert upload.tags == [str(invoices), "12"]
    assert (upload.correspondent, upload.document_type) == (None, str(invoice))
    assert response["paperless"][0]["document_id"] == 1

    jobs = len(scanner.service.jobs)
    with pytest.raises(ServiceValidationError) as err:
        await scan(
            hass, scanner.uuid, destination="paperless", paperless_title="{pages}"
        )
    assert err.value.translation_key == "invalid_paperless_title"
    assert len(scanner.service.jobs) == jobs
