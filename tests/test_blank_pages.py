"""Blank backs of single-sided sheets scanned duplex are left out, end to end.

The simulator's `blank_backs` setting makes every duplex back white paper with sensor
noise and the sheet edge's shadow, as a scanner sees the back of a printed letter.
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import SimulatedScanner

from .ha_fixtures import entity_id, scan
from .test_scan import only_job, pdf_page_images, sent_pages

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_duplex_scan_leaves_the_blank_backs_out(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Three printed sheets, blank backs: three pages, the fronts' bytes unchanged."""
    scanner.settings.blank_backs = True
    scanner.load_feeder(3)

    response = await scan(
        hass, scanner.uuid, source="feeder_duplex", format="pdf", skip_blank=50
    )

    job = only_job(scanner)
    assert [page.side for page in job.planned] == ["front", "back"] * 3
    fronts = sent_pages(job)[::2]
    (file,) = response["files"]
    assert pdf_page_images(Path(file["path"])) == fronts
    assert (response["pages"], response["blank_pages_skipped"]) == (3, 3)
    last_scan = hass.states.get(
        entity_id(entity_registry, "sensor", scanner.uuid, "last_scan")
    )
    assert last_scan.attributes["blank_pages_skipped"] == 3
    assert last_scan.attributes["pages"] == 3


async def test_without_skipping_the_blank_backs_stay(
    hass: HomeAssistant, scanner: SimulatedScanner, loaded_entry: MockConfigEntry
) -> None:
    """The same scan without `skip_blank` keeps every side."""
    scanner.settings.blank_backs = True
    scanner.load_feeder(2)

    response = await scan(hass, scanner.uuid, source="feeder_duplex", format="pdf")

    (file,) = response["files"]
    assert pdf_page_images(Path(file["path"])) == sent_pages(only_job(scanner))
    assert (response["pages"], response["blank_pages_skipped"]) == (4, 0)
