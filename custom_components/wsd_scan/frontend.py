"""The dashboard card and its Tile card feature, served and loaded by the integration.

The card is plain JavaScript modules in `frontend/` (no build step). They are served under
a path holding a hash of their content, so a browser caches them for long but never keeps
an old card after an update, and the relative imports between them share that version.
The frontend loads the entry module on every page (`add_extra_js_url`), which registers
the card, its editor and the feature.

The card follows the profiles of a scanner with the `wsd_scan/profiles/subscribe`
websocket command (their ids and names: it scans with `profile: <id>`), so a profile
added or renamed shows without reloading the page. Its preview strip follows the pages
as they arrive (live_pages.py).
"""

from __future__ import annotations

from collections.abc import Iterable
import hashlib
from pathlib import Path
from typing import Any, Final

from homeassistant.components.frontend import add_extra_js_url
from homeassistant.components.http.server import StaticPathConfig
from homeassistant.components.websocket_api import async_register_command
from homeassistant.components.websocket_api.connection import ActiveConnection
from homeassistant.components.websocket_api.decorators import websocket_command
from homeassistant.components.websocket_api.messages import event_message
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, service
import probatio

from .const import DOMAIN
from .live_pages import async_setup_live_pages
from .models import WsdScanConfigEntry
from .profiles import SUBENTRY_PROFILE

FRONTEND_DIR: Final = Path(__file__).parent / "frontend"
URL_BASE: Final = f"/{DOMAIN}/frontend"
#: The module the frontend loads; it imports the others.
ENTRY_MODULE: Final = "wsd-scan-card.js"


async def async_setup_frontend(hass: HomeAssistant) -> None:
    """Serve the card's modules and have the frontend load them.

    Without the frontend (a headless installation) there is nobody to show the card to;
    the manifest's `after_dependencies` makes sure it is set up first when it is used.
    """
    if "frontend" not in hass.config.components:
        return
    version = await hass.async_add_executor_job(content_version, FRONTEND_DIR)
    url = f"{URL_BASE}/{version}"
    await hass.http.async_register_static_paths(
        [StaticPathConfig(url, str(FRONTEND_DIR), cache_headers=True)]
    )
    add_extra_js_url(hass, f"{url}/{ENTRY_MODULE}")
    async_register_command(hass, websocket_subscribe_profiles)
    async_setup_live_pages(hass)


def content_version(folder: Path) -> str:
    """Return a short hash of the names and contents of a folder's files. Blocking."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@websocket_command(
    {
        probatio.Required("type"): f"{DOMAIN}/profiles/subscribe",
        probatio.Required(ATTR_DEVICE_ID): cv.string,
    }
)
@callback
def websocket_subscribe_profiles(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send a scanner's profiles, then again whenever they change.

    Each profile comes with its id and name; `profile: <id>` in `wsd_scan.scan` scans
    as it does. A profile added, renamed or removed reloads the entry: the profiles
    are sent again after each change of its state, when they differ. An unknown device
    or one whose scanner is not loaded is a translated error.
    """
    entry: WsdScanConfigEntry
    _device, entry = service.async_get_device_and_config_entry(
        hass, DOMAIN, msg[ATTR_DEVICE_ID]
    )
    sent: list[dict[str, str]] | None = None

    @callback
    def send_profiles() -> None:
        nonlocal sent
        profiles = list(_profiles(entry))
        if profiles != sent:
            sent = profiles
            connection.send_message(event_message(msg["id"], {"profiles": profiles}))

    connection.subscriptions[msg["id"]] = entry.async_on_state_change(send_profiles)
    connection.send_result(msg["id"])
    send_profiles()


def _profiles(entry: WsdScanConfigEntry) -> Iterable[dict[str, str]]:
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_PROFILE:
            yield {"id": subentry.subentry_id, "name": subentry.title}
