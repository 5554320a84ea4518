"""Scans handed to a WS-DSP post-scan endpoint: the simulator's scan server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import hashlib
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wsd_scan.const import (
    CONF_CALLBACK_URL,
    CONF_DOCUMENT_ROOT,
    CONF_ENDPOINT,
    CONF_POST_SCAN,
    CONF_USER_IDENTIFIER,
    DOMAIN,
)
from simulator import SimulatedScanner
from simulator.scan_server import ScanServer

from .ha_fixtures import device_id, entity_id, scan, scanner_entry, until

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[ScanServer]:
    """Run a WS-DSP scan server on loopback."""
    async with ScanServer() as scan_server:
        yield scan_server


@pytest.fixture
async def post_entry(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    callback_url: str,
    server: ScanServer,
) -> AsyncGenerator[MockConfigEntry]:
    """Set the scanner up with the scan server as its post-scan endpoint."""
    entry = scanner_entry(
        scanner,
        **{
            CONF_CALLBACK_URL: callback_url,
            CONF_POST_SCAN: {
                CONF_ENDPOINT: server.url,
                CONF_USER_IDENTIFIER: "S-1-5-21-1",
                CONF_DOCUMENT_ROOT: "Letters",
            },
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def sha256(path: Path) -> str:
    """Return the SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def issues(issue_registry: ir.IssueRegistry) -> set[str]:
    """Return the keys of this domain's repair issues."""
    return {key for domain, key in issue_registry.issues if domain == DOMAIN}


async def test_both_keeps_the_files_and_hands_them_over(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    server: ScanServer,
    post_entry: MockConfigEntry,
) -> None:
    """The server gets the stored PDF byte for byte; the library keeps it."""
    scanner.load_feeder(3)
    response = await scan(hass, scanner.uuid, source="feeder", destination="both")

    (job,) = server.jobs.values()
    assert (job.user, job.document_root_name, job.state) == (
        "S-1-5-21-1",
        "Letters",
        "Completed",
    )
    (file,) = response["files"]
    path = Path(file["path"])
    assert [doc.sha256 for doc in job.documents] == [sha256(path)]
    assert response["post_scan"] == {
        "job_token": job.token,
        "state": "Completed",
        "images_received": 1,
    }
    job_state = entity_id(entity_registry, "sensor", scanner.uuid, "job_state")
    attributes = hass.states.get(job_state).attributes
    assert (attributes["post_scan_state"], attributes["post_scan_images"]) == (
        "completed",
        1,
    )


async def test_post_scan_only_leaves_the_library(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    server: ScanServer,
    post_entry: MockConfigEntry,
) -> None:
    """Once the server has the scan, it is removed from the media library."""
    kept = await scan(hass, scanner.uuid, source="platen", format="jpeg")
    response = await scan(
        hass, scanner.uuid, source="platen", format="pdf", destination="post_scan"
    )

    assert response["files"] == []
    assert response["post_scan"]["state"] == "Completed"
    assert len(server.jobs) == 1
    activity = post_entry.runtime_data.activity
    # The last scan is the one still in the library.
    assert activity.last_scan is not None
    assert [str(f.path) for f in activity.last_scan.files] == [kept["files"][0]["path"]]
    folder = Path(kept["files"][0]["path"]).parent
    assert [p.suffix for p in folder.iterdir() if p.is_file()] == [".jpg"]


async def test_a_temporary_error_is_retried(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    server: ScanServer,
    post_entry: MockConfigEntry,
) -> None:
    """ServerErrorTemporaryError on the upload: tried again, then it works."""
    server.inject_fault("SendImage", "ServerErrorTemporaryError")
    response = await scan(hass, scanner.uuid, source="platen", destination="both")
    assert response["post_scan"]["state"] == "Completed"
    (job,) = server.jobs.values()
    assert len(job.documents) == 1


async def test_a_failing_endpoint_keeps_the_files_and_raises_an_issue(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    scanner: SimulatedScanner,
    server: ScanServer,
    post_entry: MockConfigEntry,
) -> None:
    """Internal error: translated error naming the files, repair issue until it works."""
    server.inject_fault("SendImage", "ServerErrorInternalError")
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="platen", destination="post_scan")
    assert err.value.translation_key == "post_scan_failed"
    files = err.value.translation_placeholders["files"]
    assert Path(files).is_file()
    assert "The files stay in the media library" in str(err.value)
    (job,) = server.jobs.values()
    assert job.state == "Canceled"
    assert issues(issue_registry) == {f"post_scan_failed_{post_entry.entry_id}"}
    issue = issue_registry.async_get_issue(
        DOMAIN, f"post_scan_failed_{post_entry.entry_id}"
    )
    assert issue is not None and issue.translation_placeholders["files"] == files

    await scan(hass, scanner.uuid, source="platen", destination="both")
    assert issues(issue_registry) == set()
    assert Path(files).is_file()


async def test_cancel_stops_the_upload(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    server: ScanServer,
    post_entry: MockConfigEntry,
) -> None:
    """`wsd_scan.cancel` during the upload cancels the post-scan job; files kept."""
    arrived = server.hang("SendImage")
    scanning = hass.async_create_task(
        scan(hass, scanner.uuid, source="platen", destination="post_scan")
    )
    await asyncio.wait_for(arrived.wait(), 10)
    runner = post_entry.runtime_data.runner
    assert runner.busy

    await hass.services.async_call(
        DOMAIN, "cancel", {"device_id": device_id(hass, scanner.uuid)}, blocking=True
    )
    with pytest.raises(HomeAssistantError) as err:
        await scanning
    assert err.value.translation_key == "scan_cancelled_pages_saved"
    assert not runner.busy
    (job,) = server.jobs.values()
    await until(lambda: job.state == "Canceled", 10)
    assert Path(err.value.translation_placeholders["files"]).is_file()


async def test_without_an_endpoint_the_destination_is_refused(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """Asking for the post-scan endpoint of a scanner that has none scans nothing."""
    with pytest.raises(ServiceValidationError) as err:
        await scan(hass, scanner.uuid, source="platen", destination="both")
    assert err.value.translation_key == "no_post_scan_endpoint"
    assert scanner.jobs == {}


async def test_an_unreachable_endpoint_is_a_failure_not_a_loss(
    hass: HomeAssistant,
    scanner: SimulatedScanner,
    callback_url: str,
    closed_port: int,
) -> None:
    """Nothing listens at the endpoint: the scan stays in the library."""
    entry = scanner_entry(
        scanner,
        **{
            CONF_CALLBACK_URL: callback_url,
            CONF_POST_SCAN: {CONF_ENDPOINT: f"http://127.0.0.1:{closed_port}/dsp"},
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    with pytest.raises(HomeAssistantError) as err:
        await scan(hass, scanner.uuid, source="platen", destination="post_scan")
    assert err.value.translation_key == "post_scan_failed"
    assert Path(err.value.translation_placeholders["files"]).is_file()
    assert entry.runtime_data.activity.last_scan is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
