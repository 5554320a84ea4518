"""Thumbnails of the pages received so far, for the dashboard card's preview strip.

While a job runs and while a session is open, the runner lists the pages received so far
(`ScanActivity.live_pages`: the session's passes, then the running job's pages); the list
clears once they are stored. The `wsd_scan/pages/subscribe` websocket command sends that
list, and again whenever it changes, each page with the URL of a small thumbnail.

The URLs are signed (`async_sign_path`), so an `<img>` loads them without the auth
header. The view serves only a page the list holds, by its position, and only while the
key in the URL (from the page's file) still matches: a page of an earlier job is a 404, and
a browser never shows a cached thumbnail of another page at the same position.
Thumbnails are files made once, off the event loop, next to the page (`.thumbnails/`):
they go with the job's work folder or the session's folder, so nothing grows in memory.
"""

from __future__ import annotations

from datetime import timedelta
import hashlib
from pathlib import Path
from typing import Any, Final
import uuid

from aiohttp import hdrs, web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import websocket_command
from homeassistant.components.websocket_api.messages import event_message
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, service
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
import probatio

from .const import DOMAIN
from .models import WsdScanConfigEntry
from .wsd import ScannedPage, WsdError
from .wsd.document import preview_page

URL: Final = f"/api/{DOMAIN}/pages"
#: Longest side of a thumbnail, in pixels: the card shows pages 120 pixels high.
THUMBNAIL_SIZE: Final = 320
THUMBNAILS_DIR: Final = ".thumbnails"
#: How long a thumbnail's URL works: a page stays listed while its session is open,
#: at most the session timeout after the last pass; a new subscription signs anew.
URL_LIFETIME: Final = timedelta(hours=1)
_CONTENT_TYPES: Final = {".jpg": "image/jpeg", ".png": "image/png"}


@callback
def async_setup_live_pages(hass: HomeAssistant) -> None:
    """Register the websocket command and the thumbnails' view."""
    async_register_command(hass, websocket_subscribe_pages)
    hass.http.register_view(LivePageView())


def page_key(page: ScannedPage) -> str:
    """Return a short key naming the page's file (unique while it is listed)."""
    return hashlib.sha256(str(page.path).encode()).hexdigest()[:16]


@websocket_command(
    {
        probatio.Required("type"): f"{DOMAIN}/pages/subscribe",
        probatio.Required(ATTR_DEVICE_ID): cv.string,
    }
)
@callback
def websocket_subscribe_pages(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send a scanner's pages received so far, then the list again on every change.

    The subscription follows the scanner's entry through reloads (each setup has its own
    activity). An unknown device or one whose scanner is not loaded is a translated
    error.
    """
    entry: WsdScanConfigEntry
    _device, entry = service.async_get_device_and_config_entry(
        hass, DOMAIN, msg[ATTR_DEVICE_ID]
    )
    #: The signed URL of each page listed last, by key: signed once per page.
    signed: dict[str, str] = {}
    sent: tuple[ScannedPage, ...] | None = None
    stop_listening: CALLBACK_TYPE = _nothing

    @callback
    def send_pages() -> None:
        nonlocal signed, sent
        pages = (
            entry.runtime_data.activity.live_pages
            if entry.state is ConfigEntryState.LOADED
            else ()
        )
        if pages == sent:
            return
        sent = pages
        urls = {}
        for index, page in enumerate(pages):
            key = page_key(page)
            urls[key] = signed.get(key) or async_sign_path(
                hass,
                f"{URL}/{entry.entry_id}/{index}/{key}",
                URL_LIFETIME,
                refresh_token_id=connection.refresh_token_id,
            )
        signed = urls
        connection.send_message(
            event_message(msg["id"], {"pages": [{"url": url} for url in urls.values()]})
        )

    @callback
    def follow_setup() -> None:
        nonlocal stop_listening
        stop_listening()
        stop_listening = (
            entry.runtime_data.activity.async_add_listener(send_pages)
            if entry.state is ConfigEntryState.LOADED
            else _nothing
        )
        send_pages()

    stop_following = entry.async_on_state_change(follow_setup)

    @callback
    def unsubscribe() -> None:
        stop_following()
        stop_listening()

    connection.subscriptions[msg["id"]] = unsubscribe
    connection.send_result(msg["id"])
    follow_setup()


@callback
def _nothing() -> None:
    """Stop nothing (no setup is followed)."""


class LivePageView(HomeAssistantView):
    """Serves the thumbnail of a page the scanner's list holds."""

    url = URL + r"/{entry_id}/{index:\d+}/{key}"
    name = f"api:{DOMAIN}:pages"

    async def get(
        self, request: web.Request, entry_id: str, index: str, key: str
    ) -> web.Response:
        """Answer the thumbnail; 404 for a page not listed (or gone, or a PDF page)."""
        hass = request.app[KEY_HASS]
        entry: WsdScanConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
        if (
            entry is None
            or entry.domain != DOMAIN
            or entry.state is not ConfigEntryState.LOADED
        ):
            raise web.HTTPNotFound
        pages = entry.runtime_data.activity.live_pages
        position = int(index)
        if position >= len(pages) or page_key(pages[position]) != key:
            raise web.HTTPNotFound
        try:
            thumbnail = await hass.async_add_executor_job(
                make_thumbnail, pages[position].path
            )
        except (OSError, WsdError) as err:
            # Stored meanwhile (its folder went), or not an image.
            raise web.HTTPNotFound from err
        if thumbnail is None:
            raise web.HTTPNotFound
        body, content_type = thumbnail
        return web.Response(
            body=body,
            content_type=content_type,
            headers={
                hdrs.CACHE_CONTROL: (
                    f"private, max-age={int(URL_LIFETIME.total_seconds())}"
                )
            },
        )


def make_thumbnail(page: Path) -> tuple[bytes, str] | None:
    """Return a page's thumbnail and its content type, made once. Blocking.

    None for a PDF page (nothing here renders PDF). Raises `WsdError` for a page that is
    no readable image, `OSError` for one whose file is gone.
    """
    folder = page.parent / THUMBNAILS_DIR
    for suffix, content_type in _CONTENT_TYPES.items():
        made = folder / f"{page.stem}{suffix}"
        if made.exists():
            return made.read_bytes(), content_type
    folder.mkdir(exist_ok=True)
    # Under a name of its own, then renamed: a request for the same page at the same
    # time never reads half a file.
    written = preview_page(
        page, folder / f"{page.stem}-{uuid.uuid4().hex}", THUMBNAIL_SIZE
    )
    if written is None:
        return None
    made = written.replace(folder / f"{page.stem}{written.suffix}")
    return made.read_bytes(), _CONTENT_TYPES[made.suffix]
