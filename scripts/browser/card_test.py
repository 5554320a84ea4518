"""The dashboard card in a real browser: `scripts/card-test` runs this.

Starts a throw-away Home Assistant with the simulated office MFP (3 sheets in its feeder),
adds the scanner with two profiles ("Feeder" and "Glass"), puts `custom:wsd-scan-card`
and a Tile card with the "Scan with profile" feature on the dashboard (lovelace config
through the websocket API), then drives the card as a user: a single scan from the glass,
then a session of the 3-page feeder pass plus a glass page, finished into one 4-page
document; then a profile is added and must show in the card and the feature; last, the
user switches to Polish and the card must speak it at once. After each step it checks
what the card shows (job state, page count, preview images — during the session, the
pages received so far —, document link, no error) and writes docs/screenshots/card-*.png.

Exit status 0 when every check passed; otherwise the failed check is printed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import sys
import tempfile
from typing import Any

from .driver import Browser, BrowserError, Page
from .ha import ROOT, HomeAssistant

SCREENSHOTS = ROOT / "docs" / "screenshots"
CARD = "wsd-scan-card"
FEATURE = "wsd-scan-profile-feature"
DASHBOARD = "scan-card"
FEEDER_SHEETS = 3
PROFILES = {
    "Feeder": {"source": "feeder", "format": "pdf", "color": "gray"},
    "Glass": {"source": "platen", "format": "pdf", "color": "color"},
}
# The card's shadow root, from the page's document.
CARD_ROOT = f"wsdFind({json.dumps(CARD)}, null).shadowRoot"


async def add_scanner(ha: HomeAssistant) -> str:
    """Add the simulated scanner through the config flow; return its entry id."""
    flow = await ha.api(
        "POST", "/api/config/config_entries/flow", {"handler": "wsd_scan"}
    )
    path = f"/api/config/config_entries/flow/{flow['flow_id']}"
    if flow["step_id"] == "user":
        flow = await ha.api("POST", path, {"device": "manual"})
    if flow["step_id"] == "manual":
        flow = await ha.api("POST", path, {"host": ha.simulator["device_url"]})
    flow = await ha.api("POST", path, {})
    if flow.get("type") != "create_entry":
        raise BrowserError(f"adding the scanner ended in {flow}")
    entry_id: str = flow["result"]["entry_id"]
    for name, settings in PROFILES.items():
        await add_profile(ha, entry_id, name, settings)
    return entry_id


async def add_profile(
    ha: HomeAssistant, entry_id: str, name: str, settings: dict[str, str]
) -> None:
    """Add a profile to the scanner's entry through its subentry flow."""
    subflow = await ha.api(
        "POST",
        "/api/config/config_entries/subentries/flow",
        {"handler": [entry_id, "profile"]},
    )
    result = await ha.api(
        "POST",
        f"/api/config/config_entries/subentries/flow/{subflow['flow_id']}",
        {
            "name": name,
            "resolution": "75",
            "paper": "a4",
            "destination": "media",
            **settings,
        },
    )
    if result.get("type") != "create_entry":
        raise BrowserError(f"adding the profile {name} ended in {result}")


async def call_ws(page: Page, message: dict[str, Any]) -> Any:
    """Send a websocket command as the logged-in frontend does; return its result."""
    await page.wait_until(
        "document.querySelector('home-assistant')?.hass?.connection",
        what="the frontend's connection",
    )
    return await page.evaluate(
        f"document.querySelector('home-assistant').hass.callWS({json.dumps(message)})"
    )


async def card_text(page: Page, css: str) -> str:
    """Return the text of an element in the card ("" when it is hidden or absent)."""
    text: str = await page.evaluate(
        f"(() => {{ const el = {CARD_ROOT}.querySelector({json.dumps(css)});"
        " return el && !el.hidden ? el.textContent : ''; })()"
    )
    return text


async def wait_card(page: Page, condition: str, what: str, timeout: float = 45) -> None:
    """Wait until a JavaScript condition on the card's shadow root (`root`) holds."""
    await page.wait_until(
        f"(() => {{ const root = {CARD_ROOT}; return !!root && !!({condition}); }})()",
        timeout=timeout,
        what=what,
    )


async def preview_images(page: Page) -> list[dict[str, Any]]:
    """Return the card's preview images: alt text and whether each one loaded."""
    images: list[dict[str, Any]] = await page.evaluate(
        f"[...{CARD_ROOT}.querySelectorAll('.preview img')].map((img) =>"
        " ({alt: img.alt, loaded: img.complete && img.naturalWidth > 0}))"
    )
    return images


async def click_still(page: Page, selector: str, text: str | None = None) -> None:
    """Click an element once it stays put (a click into a moving layout can miss it)."""
    found = f"wsdFind({json.dumps(selector)}, {json.dumps(text)})"
    await page.wait_until(
        f"(() => {{ const el = {found}; if (!el) return false;"
        " const rect = JSON.stringify(el.getBoundingClientRect());"
        " const still = window.wsdLastRect === rect; window.wsdLastRect = rect;"
        " return still; })()",
        what=f"{selector!r} to stay put",
    )
    await page.click(selector, text=text)


async def choose_profile(page: Page, name: str) -> None:
    """Choose a profile in the card's dropdown, as a user does."""
    await page.click(f"{CARD} >> ha-select")
    await page.click(f"{CARD} >> ha-dropdown-item", text=name)
    await wait_card(
        page,
        "root.querySelector('ha-form').schema[0].selector.select.options"
        f".some((o) => o.label === {json.dumps(name)}"
        " && o.value === root.querySelector('ha-form').data.profile)",
        f"the profile {name} to be chosen",
    )


async def press(page: Page, label: str) -> None:
    """Press one of the card's buttons, once it is enabled."""
    await wait_card(
        page,
        f"[...root.querySelectorAll('.actions ha-button')].some((b) =>"
        f" b.textContent === {json.dumps(label)} && !b.disabled)",
        f"the {label} button to be enabled",
    )
    await page.click(f"{CARD} >> ha-button", text=label)


async def expect_no_error(page: Page, step: str) -> None:
    """Fail with the card's error, if it shows one."""
    if error := await card_text(page, "ha-alert"):
        raise BrowserError(f"{step}: the card shows the error {error!r}")


async def expect_status(page: Page, *parts: str) -> None:
    """Wait until the card's status line (scanner · job · pages) shows every part."""
    await wait_card(
        page,
        " && ".join(
            f"root.querySelector('.status').textContent.includes({json.dumps(part)})"
            for part in parts
        ),
        f"the status to show {parts}",
    )


async def expect_session(page: Page, pages: int) -> None:
    """Wait until the card counts `pages` in the open session (or shows an error)."""
    await wait_card(
        page,
        "!root.querySelector('ha-alert').hidden ||"
        f" root.querySelector('.session').textContent.includes(': {pages} pages,')",
        f"a session of {pages} pages",
    )
    await expect_no_error(page, f"the session of {pages} pages")


async def expect_live_pages(page: Page, pages: int) -> None:
    """Wait until the preview strip shows the `pages` received so far, loaded."""
    await wait_card(
        page,
        f"root.querySelectorAll('.preview img').length === {pages}"
        " && [...root.querySelectorAll('.preview img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
        " && root.querySelector('.links').hidden",
        f"thumbnails of the {pages} pages received",
    )
    titles = [image["alt"] for image in await preview_images(page)]
    if titles != [f"Page {number}" for number in range(1, pages + 1)]:
        raise BrowserError(f"the preview shows {titles}")


async def expect_document(page: Page, pages: int) -> None:
    """Wait until the card shows a document: a loaded preview per page, a PDF link."""
    await wait_card(
        page,
        "!root.querySelector('ha-alert').hidden ||"
        f" root.querySelectorAll('.preview img').length === {pages}"
        " && root.querySelector('.links a')",
        f"a preview of {pages} pages",
    )
    await expect_no_error(page, f"the document of {pages} pages")
    await page.wait_until(
        f"[...{CARD_ROOT}.querySelectorAll('.preview img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)",
        what="the preview images to load",
    )
    titles = [image["alt"] for image in await preview_images(page)]
    if titles != [f"Page {number}" for number in range(1, pages + 1)]:
        raise BrowserError(f"the preview shows {titles}")
    link = await page.evaluate(
        f"(() => {{ const a = {CARD_ROOT}.querySelector('.links a');"
        " return a && {text: a.textContent, href: a.href}; })()"
    )
    if not link or not link["text"].endswith(".pdf") or "authSig=" not in link["href"]:
        raise BrowserError(f"the document link is {link}")


async def add_dashboard(
    page: Page, url: str, device_id: str, scanner_entity: str
) -> None:
    """Add a dashboard with the card and a Tile card with the feature; open it."""
    await call_ws(
        page,
        {
            "type": "lovelace/dashboards/create",
            "url_path": DASHBOARD,
            "title": "Scanner",
            "mode": "storage",
        },
    )
    cards = [
        {"type": f"custom:{CARD}", "device_id": device_id},
        {
            "type": "tile",
            "entity": scanner_entity,
            "features": [{"type": f"custom:{FEATURE}"}],
        },
    ]
    view = {
        "title": "Scanner",
        "path": "scanner",
        "type": "sections",
        "sections": [{"type": "grid", "cards": cards}],
    }
    await call_ws(
        page,
        {
            "type": "lovelace/config/save",
            "url_path": DASHBOARD,
            "config": {"views": [view]},
        },
    )
    await page.navigate(f"{url}/{DASHBOARD}/scanner")


async def check_editors(page: Page, url: str) -> None:
    """Open the visual editors: the card's and the feature's offer the profiles."""
    await page.navigate(f"{url}/{DASHBOARD}/scanner?edit=1")
    await click_still(page, CARD)
    await page.wait_for("wsd-scan-card-editor >> ha-form")
    await page.wait_until(
        "wsdFind('wsd-scan-card-editor', null)._form.schema.length === 3",
        what="the editor's profile field",
    )
    await page.screenshot(SCREENSHOTS / "card-editor.png")
    await page.navigate(f"{url}/{DASHBOARD}/scanner?edit=1")
    await click_still(page, "hui-tile-card")
    # Open the tile editor's Features section. Set, not clicked: the dialog is still
    # laying out, and a click there can land on the field above.
    await page.wait_until(
        "(() => { const header = wsdFind('ha-expansion-panel > h3', 'Features');"
        " if (header) header.parentElement.expanded = true; return !!header; })()",
        what="the tile editor's Features section",
    )
    await click_still(page, "hui-card-features-editor >> ha-icon-button.edit-icon")
    await page.wait_until(
        f"wsdFind('{FEATURE}-editor', null)?._form?.schema[0].selector.select"
        f".options.length === {len(PROFILES) + 1}",
        what="the feature editor's profiles",
    )
    await click_still(page, f"{FEATURE}-editor >> *", text="Glass")
    await page.wait_until(
        f"wsdFind('{FEATURE}-editor', null)._config.profiles?.length === 1",
        what="the feature limited to one profile",
    )
    await page.screenshot(SCREENSHOTS / "card-feature-editor.png")
    await page.navigate(f"{url}/{DASHBOARD}/scanner")


async def run(page: Page, ha: HomeAssistant) -> None:
    """Drive the card through a scan and a session; check and screenshot each step."""
    entry_id = await add_scanner(ha)
    devices = await call_ws(page, {"type": "config/device_registry/list"})
    device_id = next(d["id"] for d in devices if d["config_entry_id"] == entry_id)
    entities = await call_ws(page, {"type": "config/entity_registry/list"})
    scanner_entity = next(
        e["entity_id"]
        for e in entities
        if e["device_id"] == device_id and e["translation_key"] == "scanner_state"
    )
    await add_dashboard(page, ha.url, device_id, scanner_entity)
    await wait_card(
        page,
        "root.querySelector('ha-form')?.schema?.[0]?.selector.select.options.length"
        f" === {len(PROFILES) + 2}",
        "the card's profiles",
    )

    # The Tile card's feature scans with a profile; the card shows the job and preview.
    await click_still(page, f"{FEATURE} >> ha-control-button", text="Glass")
    await expect_status(page, "Completed", "1 page")
    await wait_card(
        page,
        "[...root.querySelectorAll('.preview img')].some((img) =>"
        " img.alt === 'Last scan' && img.complete && img.naturalWidth > 0)",
        "the last scan's preview",
    )
    await page.screenshot(SCREENSHOTS / "card-tile-feature.png")

    # One scan from the glass in the card: its document, a preview of its page.
    await choose_profile(page, "Glass")
    await press(page, "Scan")
    await expect_document(page, pages=1)
    await page.screenshot(SCREENSHOTS / "card-scanned.png")

    await check_editors(page, ha.url)

    # A session: the 3 sheets of the feeder, then a page from the glass, one document.
    await choose_profile(page, "Feeder")
    await press(page, "Scan more")
    await expect_session(page, FEEDER_SHEETS)
    await expect_live_pages(page, FEEDER_SHEETS)
    await choose_profile(page, "Glass")
    await press(page, "Scan more")
    await expect_session(page, FEEDER_SHEETS + 1)
    await expect_live_pages(page, FEEDER_SHEETS + 1)
    await page.screenshot(SCREENSHOTS / "card-session.png")
    await press(page, "Finish")
    await expect_document(page, pages=FEEDER_SHEETS + 1)
    await expect_status(page, "Completed", f"{FEEDER_SHEETS + 1} pages")
    if await card_text(page, ".session"):
        raise BrowserError("the card still shows the session after Finish")
    await page.screenshot(SCREENSHOTS / "card-finished.png")

    # A profile added meanwhile shows in the card and the Tile feature, with no reload.
    await add_profile(ha, entry_id, "Photos", PROFILES["Glass"])
    await wait_card(
        page,
        "root.querySelector('ha-form')?.schema?.[0]?.selector.select.options"
        ".some((option) => option.label === 'Photos')",
        "the profile added to show",
    )
    await page.wait_for(f"{FEATURE} >> ha-control-button", text="Photos")

    # The user picks another language (as the profile page does): the card follows at
    # once, its own words and counts too (Polish: three plural forms).
    await page.evaluate(
        "document.querySelector('home-assistant').dispatchEvent(new CustomEvent("
        "'hass-language-select', {detail: 'pl', bubbles: true, composed: true}))"
    )
    await wait_card(
        page,
        "[...root.querySelectorAll('ha-button')]"
        ".some((button) => button.textContent === 'Skanuj dalej')",
        "the card's buttons in Polish",
    )
    await expect_status(page, f"{FEEDER_SHEETS + 1} strony")


async def main() -> int:
    """Run the browser test; return the exit status."""
    async with (
        HomeAssistant.start(
            simulator_args=("--profile", "office_mfp", "--feeder", str(FEEDER_SHEETS))
        ) as ha,
        Browser.start() as browser,
    ):
        page = await browser.new_page(width=1280, height=900)
        await ha.login(page)
        await page.navigate(ha.url)
        await page.wait_for("home-assistant >> ha-sidebar")
        try:
            await run(page, ha)
        except BrowserError as err:
            failed = Path(tempfile.gettempdir()) / "wsd-card-test-failed.png"
            await page.screenshot(failed)
            print(f"card test FAILED: {err} (screenshot: {failed})", file=sys.stderr)  # noqa: T201
            return 1
    print("card test passed")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
