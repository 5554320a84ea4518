"""The card's live pages: listed as they arrive, thumbnails behind signed URLs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from http import HTTPStatus
from io import BytesIO
from typing import Any

from homeassistant.components.onboarding import (
    STORAGE_VERSION as ONBOARDING_STORAGE_VERSION,
)
from homeassistant.components.onboarding.const import STEPS as ONBOARDING_STEPS
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.wsd_scan.const import DOMAIN
from custom_components.wsd_scan.live_pages import THUMBNAIL_SIZE
from simulator import PROFILES, Quirk, SimulatedScanner

from .ha_fixtures import device_id, scan, scanner_entry

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def frontend(hass: HomeAssistant, hass_storage: dict[str, Any]) -> None:
    """Set the frontend up before the integration, as `after_dependencies` orders it."""
    hass_storage["onboarding"] = {
        "version": ONBOARDING_STORAGE_VERSION,
        "key": "onboarding",
        "data": {"done": ONBOARDING_STEPS},
    }
    assert await async_setup_component(hass, "frontend", {})


class PageEvents:
    """A `wsd_scan/pages/subscribe` subscription: the lists of pages it receives."""

    def __init__(self, client: Any) -> None:
        """Read from a subscribed websocket client."""
        self.client = client

    @classmethod
    async def subscribe(
        cls, hass: HomeAssistant, hass_ws_client: WebSocketGenerator, uuid: str
    ) -> PageEvents:
        """Subscribe to a scanner's pages; the first list is read."""
        client = await hass_ws_client(hass)
        await client.send_json_auto_id(
            {"type": f"{DOMAIN}/pages/subscribe", "device_id": device_id(hass, uuid)}
        )
        assert (await client.receive_json())["success"]
        return cls(client)

    async def next(self) -> list[str]:
        """Return the URLs of the next list sent."""
        async with asyncio.timeout(30):
            message = await self.client.receive_json()
        return [page["url"] for page in message["event"]["pages"]]


def without_signature(url: str) -> str:
    """Return the path of a signed URL, without its `authSig`."""
    return url.partition("?")[0]


async def test_pages_appear_as_they_arrive_and_go_once_stored(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    frontend: None,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Page 1 is listed while page 2 is held; its thumbnail needs the signature."""
    scanner.load_feeder(3)
    activity = loaded_entry.runtime_data.activity

    def hold_page_2() -> None:
        if len(activity.live_pages) == 1:
            scanner.quirks.add(Quirk.HOSTILE_STALL_MID_BODY)

    stop_holding = activity.async_add_listener(hold_page_2)
    events = await PageEvents.subscribe(hass, hass_ws_client, scanner.uuid)
    assert await events.next() == []
    scanning = hass.async_create_task(scan(hass, scanner.uuid, source="feeder"))

    (url,) = await events.next()
    assert not scanning.done()
    anonymous = await hass_client_no_auth()
    for _ in range(2):  # made, then the same file again
        response = await anonymous.get(url)
        assert response.status == HTTPStatus.OK
        assert response.content_type == "image/jpeg"
        with Image.open(BytesIO(await response.read())) as thumbnail:
            assert max(thumbnail.size) <= THUMBNAIL_SIZE
    path = without_signature(url)
    assert (await anonymous.get(path)).status == HTTPStatus.UNAUTHORIZED
    assert (await anonymous.get(f"{url}0")).status == HTTPStatus.UNAUTHORIZED
    user = await hass_client()
    assert (await user.get(path)).status == HTTPStatus.OK
    entry_id = loaded_entry.entry_id
    for unknown in (
        path.replace(f"/{entry_id}/0/", f"/{entry_id}/1/"),  # not received yet
        path.replace(f"/{entry_id}/0/", f"/{entry_id}/0/0"),  # not this page's key
        path.replace(entry_id, "no-such-entry"),
        path.replace(f"/{entry_id}/0/", f"/{entry_id}/../"),
    ):
        assert (await user.get(unknown)).status == HTTPStatus.NOT_FOUND, unknown

    await hass.services.async_call(
        DOMAIN,
        "cancel",
        {"device_id": device_id(hass, scanner.uuid)},
        blocking=True,
    )
    with pytest.raises(HomeAssistantError):
        await scanning
    stop_holding()
    # Stored with the page kept: the card shows the stored document instead.
    assert await events.next() == []
    assert (await user.get(path)).status == HTTPStatus.NOT_FOUND


async def test_session_pages_stay_listed_across_passes_until_finished(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    frontend: None,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """Each page joins the list as it arrives; the passes stay; Finish empties it."""
    events = await PageEvents.subscribe(hass, hass_ws_client, scanner.uuid)
    assert await events.next() == []
    scanner.load_feeder(2)
    await scan(hass, scanner.uuid, source="feeder", session="start")
    first = await events.next()
    assert len(first) == 1
    fronts = await events.next()
    assert fronts[:1] == first
    assert len(fronts) == 2

    await scan(hass, scanner.uuid, source="platen", session="add")
    listed = await events.next()
    # Signed once: the thumbnails already shown keep their URLs.
    assert listed[:2] == fronts
    assert len(listed) == 3
    user = await hass_client()
    for url in listed:
        response = await user.get(url)
        assert response.status == HTTPStatus.OK
        assert response.content_type == "image/jpeg"

    await scan(hass, scanner.uuid, session="finish")
    assert await events.next() == []
    for url in listed:
        assert (await user.get(url)).status == HTTPStatus.NOT_FOUND


async def test_pages_are_followed_through_a_reload(
    hass: HomeAssistant,
    frontend: None,
    hass_ws_client: WebSocketGenerator,
    scanner: SimulatedScanner,
    loaded_entry: MockConfigEntry,
) -> None:
    """A reload (changed options) makes a new activity: the subscription follows it."""
    events = await PageEvents.subscribe(hass, hass_ws_client, scanner.uuid)
    assert await events.next() == []
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await scan(hass, scanner.uuid, source="platen")
    assert len(await events.next()) == 1
    assert await events.next() == []


async def test_pages_without_a_thumbnail_are_not_found(
    hass: HomeAssistant,
    frontend: None,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    callback_url: str,
) -> None:
    """A PDF page (nothing renders it) and a page that is no image: listed, 404."""
    profile = replace(PROFILES["office_mfp"], formats=("pdf-a",))
    async with SimulatedScanner(profile, discovery=False) as pdf_only:
        entry = scanner_entry(pdf_only, callback_url=callback_url)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        events = await PageEvents.subscribe(hass, hass_ws_client, pdf_only.uuid)
        assert await events.next() == []
        for step in ("start", "add"):
            await scan(hass, pdf_only.uuid, source="platen", format="pdf", session=step)
        await events.next()  # the first pass
        listed = await events.next()
        assert len(listed) == 2
        entry.runtime_data.activity.live_pages[1].path.write_bytes(b"not an image")
        user = await hass_client()
        for url in listed:
            assert (await user.get(url)).status == HTTPStatus.NOT_FOUND
        await hass.config_entries.async_unload(entry.entry_id)
