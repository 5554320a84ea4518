"""The "notify when a scan is stored" blueprint: valid, and it notifies with the preview."""

from __future__ import annotations

import json
from pathlib import Path
import re
import shutil
from urllib.parse import unquote, urlsplit

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import Blueprint
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from custom_components.wsd_scan.const import DOMAIN
from simulator import SimulatedScanner

from .ha_fixtures import entity_id, scan

REPOSITORY = Path(__file__).parent.parent
BLUEPRINT_PATH = f"{DOMAIN}/notify_scan_stored.yaml"
BLUEPRINT_RELATIVE = f"blueprints/automation/{BLUEPRINT_PATH}"
BLUEPRINT = REPOSITORY / BLUEPRINT_RELATIVE
MANIFEST = json.loads(
    (REPOSITORY / "custom_components" / DOMAIN / "manifest.json").read_text()
)


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Keep the configuration (and its blueprints folder) in a temporary folder."""
    return hass_tmp_config_dir


def test_the_blueprint_is_a_valid_automation_blueprint() -> None:
    """HA's blueprint models accept it; its source URL is this repository's file."""
    blueprint = Blueprint(
        load_yaml_dict(str(BLUEPRINT)),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert set(blueprint.inputs) == {"last_scan", "preview", "notify_action", "title"}
    assert blueprint.metadata["source_url"] == (
        f"{MANIFEST['documentation']}/blob/main/{BLUEPRINT_RELATIVE}"
    )


def test_readme_imports_the_blueprint_from_this_repository() -> None:
    """The README's import link is My Home Assistant's, for the blueprint's raw file."""
    readme = (REPOSITORY / "README.md").read_text()
    links = re.findall(
        r"https://my\.home-assistant\.io/redirect/blueprint_import/"
        r"\?blueprint_url=([^)\s]+)",
        readme,
    )
    repository = urlsplit(MANIFEST["documentation"]).path
    raw = f"https://raw.githubusercontent.com{repository}/main/{BLUEPRINT_RELATIVE}"
    assert [unquote(link) for link in links] == [raw]


@pytest.mark.usefixtures("socket_enabled")
async def test_a_stored_scan_is_notified_with_its_preview(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """A scan stored sends one notification naming the scanner, file and pages."""
    imported = Path(hass.config.path("blueprints", "automation", BLUEPRINT_PATH))
    imported.parent.mkdir(parents=True)
    shutil.copy(BLUEPRINT, imported)
    notifications = async_mock_service(hass, "notify", "phone")
    preview = entity_id(entity_registry, "image", scanner.uuid, "last_scan_image")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": BLUEPRINT_PATH,
                    "input": {
                        "last_scan": entity_id(
                            entity_registry, "sensor", scanner.uuid, "last_scan"
                        ),
                        "preview": preview,
                        "notify_action": "notify.phone",
                    },
                }
            }
        },
    )

    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, source="feeder", file_name="letter")
    await hass.async_block_till_done()

    assert [call.data for call in notifications] == [
        {
            "title": "Scan stored",
            "message": "Simulated Office MFP: letter.pdf (2 pages)",
            "data": {"image": f"/api/image_proxy/{preview}"},
        }
    ]
