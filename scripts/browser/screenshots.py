"""Take the README's screenshots from a real Home Assistant in headless Chromium.

    scripts/screenshots [--out DIR]

(`scripts/screenshots` is `scripts/browser/chromium python -m scripts.browser.screenshots`.)
Starts a throw-away Home Assistant with two simulated scanners (`ha.py`), goes through the
screens as a user would (adds a scanner, scans with an action, opens the options, a
profile form, a repair) and writes `SHOTS` as `docs/screenshots/<name>.png`: 1280 pixels
wide, 800 high unless a screen needs more, light theme, English. Dates, times and ports
in them differ from run to run; everything else is the same.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
import json
from pathlib import Path
import sys
import tempfile
import time
from typing import Final

from .driver import Browser, Page
from .ha import ROOT, HomeAssistant

#: Every screenshot, in the order taken, with the height of its viewport.
SHOTS: Final = {
    "config-flow": 800,
    "discovered": 800,
    "action-response": 800,
    "device": 1000,
    "media-browser": 800,
    "profile-form": 800,
    "entry": 900,
    "options-menu": 800,
    "post-scan-form": 800,
    "options-error": 1300,
    "repair": 800,
}
OUT_DIR: Final = ROOT / "docs" / "screenshots"
FAILED: Final = Path(tempfile.gettempdir()) / "wsd-screenshots-failed.png"
WIDTH: Final = 1280

OFFICE_MFP: Final = ("--profile", "office_mfp", "--feeder", "3")
OFFICE_MFP_UUID: Final = "6f1e2d3c-0000-4000-8000-00000000a001"
PHOTO_SCANNER: Final = ("--profile", "photo_flatbed")
PHOTO_SCANNER_UUID: Final = "6f1e2d3c-0000-4000-8000-00000000b002"
FLOW: Final = "dialog-data-entry-flow"


class Tour:
    """The screens, in order, on one Home Assistant and one page."""

    def __init__(self, ha: HomeAssistant, page: Page, out: Path) -> None:
        """Take screenshots of `ha` in `page` into `out`."""
        self.ha = ha
        self.page = page
        self.out = out
        self.taken: list[str] = []

    async def shot(self, name: str) -> None:
        """Write the screenshot `name` (one of `SHOTS`)."""
        if self.page.viewport != (WIDTH, SHOTS[name]):
            raise RuntimeError(f"{name} is taken at {self.page.viewport}")
        await self.page.screenshot(self.out / f"{name}.png")
        self.taken.append(name)
        print(f"{name}.png", flush=True)  # noqa: T201

    async def open(self, path: str, name: str) -> None:
        """Load `path` of Home Assistant at the viewport of screenshot `name`."""
        await self.page.set_viewport(WIDTH, SHOTS[name])
        await self.page.navigate(self.ha.url + path)

    async def submit(self, next_text: str) -> None:
        """Submit the flow dialog's form; wait for the next step (showing `next_text`)."""
        await self.page.click(f"{FLOW} >> ha-button", text="Submit")
        await self.page.wait_for(FLOW, text=next_text, timeout=30)

    async def options(self, name: str) -> None:
        """Open the scanner's options (its entry's cog) for screenshot `name`."""
        await self.open("/config/integrations/integration/wsd_scan", name)
        await self.page.click(
            "ha-config-entry-row >> button[aria-label='Configure']", timeout=30
        )
        await self.page.wait_for(FLOW, text="Scanner options")

    async def run(self) -> None:
        """Take every screenshot."""
        steps: tuple[Callable[[], Awaitable[None]], ...] = (
            self.add_scanner,
            self.scan,
            self.device,
            self.media,
            self.profiles,
            self.options_forms,
            self.repair,
        )
        for step in steps:
            await step()
        if self.taken != list(SHOTS):
            raise RuntimeError(f"took {self.taken}, expected {list(SHOTS)}")

    async def add_scanner(self) -> None:
        """Add the office MFP from the list the config flow found; the other is discovered."""
        await self.open(
            "/config/integrations/dashboard/add?domain=wsd_scan", "config-flow"
        )
        await self.page.click("ha-button", text="OK", timeout=30)
        await self.page.wait_for(FLOW, text="Simulated PhotoScan 1200", timeout=30)
        await self.shot("config-flow")
        await self.submit("Add Simulated Office MFP")
        await self.submit("Skip and finish")
        await self.page.click(f"{FLOW} >> ha-button", text="Skip and finish")
        await self.page.wait_for("ha-integration-card", text="WSD Scan", timeout=30)
        await self.page.wait_for("ha-config-flow-card", text="PhotoScan", timeout=60)
        await self.shot("discovered")

    async def scan(self) -> None:
        """Scan the feeder into a PDF in Developer tools → Actions."""
        action = {
            "action": "wsd_scan.scan",
            "data": {
                "device_id": await self.device_id(),
                "source": "feeder",
                "format": "pdf",
                "resolution": 200,
            },
        }
        # The Actions tool keeps its last action and mode here.
        await self.page.evaluate(
            "localStorage.setItem('panel-dev-action-state-service-data', "
            f"{json.dumps(json.dumps(action))});"
            "localStorage.setItem('panel-dev-action-state-yaml-mode', 'true');"
        )
        await self.open("/developer-tools/action", "action-response")
        await self.page.click("ha-button", text="Perform action", timeout=30)
        response = "Copy to clipboard as template"
        await self.page.wait_for("ha-card", text=response, timeout=60)
        # The button shows a tick for a moment after success.
        await self.page.wait_until(
            "!wsdFind('ha-progress-button', null).shadowRoot.querySelector('.result')",
            what="the button's tick to go",
        )
        await self.page.scroll_into_view("ha-card", text=response, block="end")
        await self.shot("action-response")

    async def device(self) -> None:
        """Show the device page after the scan, with a paper jam and a loaded feeder."""
        # Many scanners report an empty feeder only as a condition; once one did, the
        # Feeder entity knows they report it and reads Loaded or Empty.
        await self.ha.control("POST", "feeder", {"sheets": 5})
        await self.ha.control("POST", "conditions/InputTrayEmpty")
        await self.ha.control("DELETE", "conditions/InputTrayEmpty")
        await self.ha.control("POST", "conditions/MediaJam")
        await self.open(f"/config/devices/device/{await self.device_id()}", "device")
        await self.page.wait_for("ha-card", text="Paper jam", timeout=30)
        await self.page.wait_for("ha-card", text="Loaded", timeout=30)
        await self.shot("device")

    async def media(self) -> None:
        """Open the PDF just scanned in Media → WSD scans."""
        await self.open("/media-browser/browser", "media-browser")
        browser = "ha-media-player-browse >> ha-card"
        await self.page.click(browser, text="WSD scans", timeout=30)
        await self.page.click(browser, text="Simulated Office MFP", timeout=30)
        await self.page.click(browser, text="scan_", timeout=30)
        await self.page.wait_for(browser, text="Page 3", timeout=30)
        await self.shot("media-browser")

    async def profiles(self) -> None:
        """Add a panel profile; show the entry with its profiles."""
        await self.open("/config/integrations/integration/wsd_scan", "profile-form")
        await self.page.click("ha-button", text="Add panel profile", timeout=30)
        await self.page.fill(f"{FLOW} >> ha-selector-text", "Receipts")
        await self.shot("profile-form")
        await self.submit("Created configuration for Receipts")
        await self.page.click(f"{FLOW} >> ha-button", text="Finish")
        await self.page.wait_for(FLOW, gone=True)
        await self.page.set_viewport(WIDTH, SHOTS["entry"])
        await self.page.wait_for("ha-config-sub-entry-row", text="Receipts", timeout=30)
        await self.shot("entry")

    async def options_forms(self) -> None:
        """Show the options menu, the post-scan form, and a refused callback URL."""
        await self.options("options-menu")
        await self.shot("options-menu")
        await self.page.click(f"{FLOW} >> *", text="Post-scan endpoint")
        await self.page.wait_for(FLOW, text="User identifier")
        await self.shot("post-scan-form")
        await self.options("options-error")
        await self.page.click(f"{FLOW} >> *", text="Scan defaults and network")
        await self.page.click(f"{FLOW} >> ha-expansion-panel", text="Advanced")
        await self.page.fill(f"{FLOW} >> ha-selector-text", "192.168.1.5:8123")
        await self.submit("The callback URL must be")
        await self.page.scroll_into_view(f"{FLOW} >> ha-alert")
        await self.shot("options-error")

    async def repair(self) -> None:
        """Without a URL of Home Assistant, the repair issue asks for the callback URL."""
        await self.ha.set_internal_url(None)
        (entry,) = await self.ha.api(
            "GET", "/api/config/config_entries/entry?domain=wsd_scan"
        )
        await self.ha.api(
            "POST", f"/api/config/config_entries/entry/{entry['entry_id']}/reload"
        )
        await self.open("/config/repairs", "repair")
        issue = "No URL for scanner events"
        await self.page.click("ha-config-repairs >> *", text=issue, timeout=30)
        # The title comes before the description and the field's help are rendered.
        await self.page.wait_for(FLOW, text="Before saving", timeout=30)
        await self.page.wait_for(FLOW, text="without path, query or fragment")
        await self.shot("repair")

    async def device_id(self) -> str:
        """Return the office MFP's device id."""
        devices = await self.ha.ws({"type": "config/device_registry/list"})
        (device_id,) = (
            device["id"]
            for device in devices
            if ["wsd_scan", OFFICE_MFP_UUID] in device["identifiers"]
        )
        return str(device_id)


async def take_screenshots(out: Path) -> None:
    """Start everything, take `SHOTS` into `out`, stop everything."""
    async with (
        HomeAssistant.start(
            simulator_args=(*OFFICE_MFP, "--uuid", OFFICE_MFP_UUID)
        ) as ha,
        Browser.start() as browser,
    ):
        await ha.start_simulator(*PHOTO_SCANNER, "--uuid", PHOTO_SCANNER_UUID)
        page = await browser.new_page(width=WIDTH, height=800)
        await ha.login(page)
        try:
            await Tour(ha, page, out).run()
        except Exception:
            await page.screenshot(FAILED)
            print(f"the page when it failed: {FAILED}", file=sys.stderr)  # noqa: T201
            raise
        if page.errors:
            raise RuntimeError(f"the frontend failed: {page.errors}")


def main() -> int:
    """Parse the arguments, take the screenshots; return the exit status."""
    parser = argparse.ArgumentParser(prog="scripts/screenshots", description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="default: %(default)s"
    )
    options = parser.parse_args()
    start = time.monotonic()
    asyncio.run(take_screenshots(options.out))
    print(  # noqa: T201
        f"{len(SHOTS)} screenshots in {options.out} ({time.monotonic() - start:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
