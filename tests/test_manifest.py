"""The files HACS and hassfest read: keys, ordering, translations."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from custom_components.wsd_scan.const import DOMAIN

INTEGRATION = Path(__file__).parent.parent / "custom_components" / DOMAIN
REPOSITORY = INTEGRATION.parent.parent
HA_SHIPPED = {"aiohttp", "zeroconf", "pillow"}


def test_manifest_has_every_required_key_in_hassfest_order() -> None:
    """Keys: domain, name, then alphabetical; HACS' required keys are present."""
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == INTEGRATION.name
    for key in ("codeowners", "documentation", "issue_tracker", "version", "iot_class"):
        assert manifest[key]
    assert manifest["documentation"].startswith("https://")
    assert "home-assistant.io" not in manifest["documentation"]
    assert manifest["integration_type"] == "device"
    assert manifest["iot_class"] == "local_push"
    assert set(manifest["zeroconf"]) >= {"_uscan._tcp.local.", "_uscans._tcp.local."}


def test_manifest_does_not_pin_what_home_assistant_ships() -> None:
    """aiohttp, zeroconf and Pillow come from Home Assistant itself."""
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    names = {
        requirement.split(">")[0].split("=")[0].split("<")[0].lower()
        for requirement in manifest["requirements"]
    }
    assert not names & HA_SHIPPED


def test_hacs_minimum_version_is_the_tested_one() -> None:
    """hacs.json claims the Home Assistant release the tests run against."""
    from homeassistant.const import __version__  # noqa: PLC0415

    hacs = json.loads((REPOSITORY / "hacs.json").read_text())
    assert hacs["name"]
    assert hacs["homeassistant"] == __version__


def test_brand_icon_is_square() -> None:
    """HACS shows brand/icon.png: a 256 px square."""
    with Image.open(INTEGRATION / "brand" / "icon.png") as icon:
        assert icon.size == (256, 256)
