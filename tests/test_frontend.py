"""The dashboard card: loaded by the frontend, served, versioned; the profiles it offers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from http import HTTPStatus
from pathlib import Path
import re
from types import MappingProxyType
from typing import Any

from homeassistant.components.onboarding import (
    STORAGE_VERSION as ONBOARDING_STORAGE_VERSION,
)
from homeassistant.components.onboarding.const import STEPS as ONBOARDING_STEPS
from homeassistant.config_entries import ConfigSubentry, ConfigSubentryData
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.wsd_scan.const import (
    CONF_CALLBACK_URL,
    CONF_COLOR,
    CONF_DESTINATION,
    CONF_FORMAT,
    CONF_RESOLUTION,
    CONF_SOURCE,
    CONF_XADDRS,
    DOMAIN,
)
from custom_components.wsd_scan.frontend import (
    ENTRY_MODULE,
    FRONTEND_DIR,
    URL_BASE,
    content_version,
)
from custom_components.wsd_scan.migration import MINOR_VERSION, VERSION
from custom_components.wsd_scan.profiles import SUBENTRY_PROFILE
from simulator import SimulatedScanner

from .ha_fixtures import device_id, scan

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: `import … from "./name.js"` and `import "./name.js"` in a module.
RELATIVE_IMPORT = re.compile(r'^import (?:[^"]* from )?"\./([^"]+)";$', re.MULTILINE)


@pytest.fixture
async def frontend(hass: HomeAssistant, hass_storage: dict[str, Any]) -> None:
    """Set the frontend up first, as `after_dependencies` orders it in a real start.

    Onboarded: the frontend's pages are the onboarding page until then.
    """
    hass_storage["onboarding"] = {
        "version": ONBOARDING_STORAGE_VERSION,
        "key": "onboarding",
        "data": {"done": ONBOARDING_STEPS},
    }
    assert await async_setup_component(hass, "frontend", {})


@pytest.fixture
async def scanner_with_profiles(
    hass: HomeAssistant,
    frontend: None,
    scanner: SimulatedScanner,
    hass_client_no_auth: ClientSessionGenerator,
) -> AsyncGenerator[MockConfigEntry]:
    """Set up the scanner's entry with two profiles: the defaults, and photos."""
    assert await async_setup_component(hass, DOMAIN, {})
    assert await async_setup_component(hass, "image", {})
    client = await hass_client_no_auth()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Simulated Office MFP",
        unique_id=scanner.uuid,
        version=VERSION,
        minor_version=MINOR_VERSION,
        data={CONF_HOST: "127.0.0.1", CONF_XADDRS: [scanner.device_url]},
        options={
            CONF_CALLBACK_URL: str(client.make_url("")).rstrip("/"),
            CONF_SOURCE: "feeder",
            CONF_RESOLUTION: 75,
        },
        subentries_data=[
            ConfigSubentryData(
                subentry_id="home_assistant",
                subentry_type=SUBENTRY_PROFILE,
                title="Home Assistant",
                data={},
                unique_id=None,
            ),
            ConfigSubentryData(
                subentry_id="photos",
                subentry_type=SUBENTRY_PROFILE,
                title="Photos",
                data={
                    CONF_SOURCE: "platen",
                    CONF_FORMAT: "png",
                    CONF_COLOR: "color",
                    CONF_DESTINATION: "media",
                },
                unique_id=None,
            ),
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


async def test_the_frontend_loads_the_card_and_its_modules(
    hass: HomeAssistant, frontend: None, hass_client: ClientSessionGenerator
) -> None:
    """Every page loads the card's versioned module; it and its imports are served."""
    assert await async_setup_component(hass, DOMAIN, {})
    client = await hass_client()

    page = await client.get("/")
    assert page.status == HTTPStatus.OK
    version = content_version(FRONTEND_DIR)
    module_url = f"{URL_BASE}/{version}/{ENTRY_MODULE}"
    assert f'import("{module_url}")' in await page.text()

    modules = {ENTRY_MODULE}
    served: set[str] = set()
    while unread := modules - served:
        name = unread.pop()
        response = await client.get(f"{URL_BASE}/{version}/{name}")
        assert response.status == HTTPStatus.OK, name
        assert response.content_type in {"text/javascript", "application/javascript"}
        # Cached for long: a new card has a new URL.
        assert "max-age" in response.headers["Cache-Control"]
        modules |= set(RELATIVE_IMPORT.findall(await response.text()))
        served.add(name)
    assert served == {path.name for path in FRONTEND_DIR.glob("*.js")}


def test_the_version_follows_the_content(tmp_path: Path) -> None:
    """Another file content or name is another version; the same content the same."""
    (tmp_path / "card.js").write_text("one")
    first = content_version(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    assert content_version(tmp_path) == first

    (tmp_path / "card.js").write_text("two")
    second = content_version(tmp_path)
    (tmp_path / "card.js").rename(tmp_path / "other.js")
    assert len({first, second, content_version(tmp_path)}) == 3


async def test_no_card_without_the_frontend(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """A headless installation serves no card and has no card commands."""
    assert await async_setup_component(hass, DOMAIN, {})
    assert not any(
        resource.canonical.startswith(URL_BASE)
        for resource in hass.http.app.router.resources()
    )
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": f"{DOMAIN}/profiles/subscribe", "device_id": "x"}
    )
    response = await client.receive_json()
    assert response["error"]["code"] == "unknown_command"


async def test_the_card_scans_with_a_profile_by_its_id(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    scanner: SimulatedScanner,
    scanner_with_profiles: MockConfigEntry,
) -> None:
    """The card gets each profile's id and name; `profile: <id>` scans as the panel."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": f"{DOMAIN}/profiles/subscribe",
            "device_id": device_id(hass, scanner.uuid),
        }
    )
    assert (await client.receive_json())["success"]
    profiles = (await client.receive_json())["event"]["profiles"]
    assert profiles == [
        {"id": "home_assistant", "name": "Home Assistant"},
        {"id": "photos", "name": "Photos"},
    ]

    scanned = await scan(hass, scanner.uuid, profile=profiles[1]["id"])
    assert scanned["pages"] == 1
    assert [file["mime_type"] for file in scanned["files"]] == ["image/png"]


async def test_profiles_follow_a_profile_added_renamed_or_removed(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    scanner: SimulatedScanner,
    scanner_with_profiles: MockConfigEntry,
) -> None:
    """The card shows a new profile, a new name, a profile gone, without a page reload."""
    entry = scanner_with_profiles
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": f"{DOMAIN}/profiles/subscribe",
            "device_id": device_id(hass, scanner.uuid),
        }
    )
    subscription = (await client.receive_json())["id"]

    async def names() -> list[str]:
        message = await client.receive_json()
        assert message["id"] == subscription
        return [profile["name"] for profile in message["event"]["profiles"]]

    assert await names() == ["Home Assistant", "Photos"]

    receipts = ConfigSubentry(
        data=MappingProxyType({}),
        subentry_type=SUBENTRY_PROFILE,
        title="Receipts",
        unique_id=None,
    )
    hass.config_entries.async_add_subentry(entry, receipts)
    await hass.async_block_till_done()
    assert await names() == ["Home Assistant", "Photos", "Receipts"]

    hass.config_entries.async_update_subentry(entry, receipts, title="Bills")
    await hass.async_block_till_done()
    assert await names() == ["Home Assistant", "Photos", "Bills"]

    hass.config_entries.async_remove_subentry(entry, "photos")
    await hass.async_block_till_done()
    assert await names() == ["Home Assistant", "Bills"]

    # Unsubscribed: a change sends nothing more.
    await client.send_json_auto_id(
        {"type": "unsubscribe_events", "subscription": subscription}
    )
    assert (await client.receive_json())["success"]
    hass.config_entries.async_remove_subentry(entry, receipts.subentry_id)
    await hass.async_block_till_done()
    await client.send_json_auto_id({"type": "ping"})
    assert (await client.receive_json())["type"] == "pong"


@pytest.mark.parametrize("command", ["profiles/subscribe", "pages/subscribe"])
async def test_an_unknown_device_is_a_translated_error(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    scanner_with_profiles: MockConfigEntry,
    command: str,
) -> None:
    """The card shows the error in words: it carries its translation key."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": f"{DOMAIN}/{command}", "device_id": "not-a-device"}
    )
    response = await client.receive_json()
    assert not response["success"]
    assert (
        response["error"]["translation_domain"],
        response["error"]["translation_key"],
    ) == ("homeassistant", "service_device_not_found")


def test_readme_shows_what_the_browser_test_screenshots() -> None:
    """scripts/card-test writes the card's screenshots README shows, and they exist."""
    repository = Path(__file__).parent.parent
    written = set(
        re.findall(
            r'SCREENSHOTS / "(card-[a-z-]+\.png)"',
            (repository / "scripts" / "browser" / "card_test.py").read_text(),
        )
    )
    shown = set(
        re.findall(
            r"\(docs/screenshots/(card-[a-z-]+\.png)\)",
            (repository / "README.md").read_text(),
        )
    )
    assert written == shown
    assert all((repository / "docs" / "screenshots" / name).is_file() for name in shown)
