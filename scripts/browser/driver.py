"""Drive headless Chromium over the DevTools protocol (CDP), with aiohttp only.

    async with Browser.start() as browser:
        page = await browser.new_page(width=1280, height=800)
        await page.navigate("http://127.0.0.1:8123/")
        await page.wait_for("ha-sidebar")
        await page.fill("dialog-data-entry-flow >> ha-selector-text", "Receipts")
        await page.click("dialog-data-entry-flow >> ha-button", text="Submit")
        await page.screenshot(Path("shot.png"))

Where Chromium runs: `Browser.start()` connects to the Chromium that
`scripts/browser/chromium CMD` started for CMD (it sets `WSD_CHROMIUM_DEVTOOLS`), so run
Python through it: `scripts/browser/chromium python -m ...`. That script starts Chromium on
this machine (scripts/run's private root filesystem has no browser) and puts both in a
network namespace with only a loopback adapter.

Each page lives in its own browser context (its own cookies and localStorage), so pages
of one Chromium do not see each other's logins.

Selectors: a CSS selector is matched in the document and in every shadow root below it,
the way Home Assistant's frontend (web components all the way down) needs. `A >> B`
looks for B inside any A (in its light DOM or its shadow roots). `text=` keeps only
elements whose visible text contains it (case-sensitive, whitespace collapsed); the
innermost such element wins, so `click("ha-button", text="Submit")` hits the button.

Waiting: `wait_for` polls the page for a condition until it holds or its bound runs out
(`BrowserError` then says what was awaited); nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field
import itertools
import json
import os
from pathlib import Path
from typing import Any, Self

import aiohttp

DEVTOOLS_ENV = "WSD_CHROMIUM_DEVTOOLS"
DEFAULT_TIMEOUT = 20.0

# Runs in the page: `wsdFind(selector, text)` returns the element or null;
# `wsdFindIn(element, css)` the first shown match below `element`, shadow roots included;
# `wsdImagesLoaded()` whether the images in view have loaded; `wsdFrames()` a promise of
# two rendered frames.
FIND_ELEMENT_JS = r"""
(() => {
  if (window.wsdFind) return;
  const roots = (root) => {
    const found = [root];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
    for (let node = walker.currentNode; node; node = walker.nextNode()) {
      if (node.shadowRoot) found.push(...roots(node.shadowRoot));
    }
    return found;
  };
  // The text of the rendered (composed) tree: shadow roots instead of light children,
  // slots by what is assigned to them.
  const composedText = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (["STYLE", "SCRIPT", "TEMPLATE"].includes(node.nodeName)) return "";
    if (node.nodeName === "SLOT") {
      return node.assignedNodes({ flatten: true }).map(composedText).join(" ");
    }
    return [...(node.shadowRoot ?? node).childNodes].map(composedText).join(" ");
  };
  const visibleText = (el) => composedText(el).replace(/\s+/g, " ").trim();
  const composedContains = (outer, inner) => {
    for (let node = inner; node; node = node.assignedSlot ?? node.parentNode ?? node.host) {
      if (node === outer) return true;
    }
    return false;
  };
  // Takes room on the page, or is a host without a box of its own (a dialog's host,
  // `display: contents`) around something that does.
  const isShown = (el) => {
    const rect = el.getBoundingClientRect();
    if (rect.width > 0 && rect.height > 0) return true;
    return [...(el.shadowRoot?.children ?? []), ...el.children].some(isShown);
  };
  const findAll = (scopes, css) => [...new Set(
    scopes.flatMap(roots).flatMap((root) => [...root.querySelectorAll(css)]))];
  // Whether every image in the viewport has loaded (or failed to).
  window.wsdImagesLoaded = () => findAll([document], "img").every((img) => {
    const rect = img.getBoundingClientRect();
    const inView = rect.bottom > 0 && rect.top < innerHeight && rect.width > 0;
    return !inView || img.complete;
  });
  // Resolves once two more frames were rendered (layout caught up with a change).
  window.wsdFrames = () => new Promise(
    (resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(true))));
  window.wsdFindIn = (scope, css) => findAll([scope], css).find(isShown) ?? null;
  window.wsdFind = (selector, text) => {
    let scopes = [document];
    const steps = selector.split(" >> ");
    for (const [index, css] of steps.entries()) {
      const last = index === steps.length - 1;
      let matches = findAll(scopes, css).filter(isShown);
      if (last && text !== null) {
        matches = matches.filter((el) => visibleText(el).includes(text));
        // The innermost match: a button rather than the dialog around it.
        matches = matches.filter(
          (el) => !matches.some((o) => o !== el && composedContains(el, o)));
      }
      if (!matches.length) return null;
      scopes = matches;
    }
    return scopes[0];
  };
})();
"""


class BrowserError(Exception):
    """Chromium, Home Assistant or a simulator failed or refused, or a wait timed out."""


@dataclass
class _Connection:
    """The browser's DevTools websocket: commands by id, events to listeners."""

    socket: aiohttp.ClientWebSocketResponse
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    listeners: list[Callable[[str | None, str, dict[str, Any]], None]] = field(
        default_factory=list
    )
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 60,
    ) -> dict[str, Any]:
        """Send a command (to a page when `session` is given) and return its result.

        `timeout` only guards against a Chromium that stopped answering.
        """
        message_id = next(self.ids)
        message: dict[str, Any] = {
            "id": message_id,
            "method": method,
            "params": params or {},
        }
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self.pending[message_id] = future
        try:
            await self.socket.send_str(json.dumps(message))
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as err:
            raise BrowserError(
                f"{method}: no answer from Chromium in {timeout} s"
            ) from err
        finally:
            self.pending.pop(message_id, None)

    async def read(self) -> None:
        """Dispatch everything Chromium sends until the socket closes."""
        async for frame in self.socket:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            if "id" in message:
                future = self.pending.get(message["id"])
                if future is None or future.done():
                    continue
                if "error" in message:
                    future.set_exception(BrowserError(message["error"].get("message")))
                else:
                    future.set_result(message.get("result", {}))
            else:
                for listener in list(self.listeners):
                    listener(
                        message.get("sessionId"),
                        message["method"],
                        message.get("params", {}),
                    )
        for future in self.pending.values():
            if not future.done():
                future.set_exception(BrowserError("Chromium closed the connection"))


class Browser:
    """A connection to one Chromium; make pages with `new_page`."""

    def __init__(self, connection: _Connection) -> None:
        """Use `Browser.start()`."""
        self._connection = connection

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls) -> AsyncIterator[Self]:
        """Connect to Chromium (see the module's docstring); close everything on exit."""
        async with contextlib.AsyncExitStack() as stack:
            if not (devtools := os.environ.get(DEVTOOLS_ENV)):
                raise BrowserError(
                    f"{DEVTOOLS_ENV} is not set: run this through scripts/browser/chromium"
                )
            session = await stack.enter_async_context(aiohttp.ClientSession())
            async with session.get(f"{devtools}/json/version") as response:
                version = await response.json()
            socket = await stack.enter_async_context(
                session.ws_connect(version["webSocketDebuggerUrl"], max_msg_size=0)
            )
            connection = _Connection(socket)
            reader = asyncio.create_task(connection.read())
            try:
                yield cls(connection)
            finally:
                await socket.close()
                await reader

    async def new_page(self, *, width: int = 1280, height: int = 800) -> Page:
        """Open a blank page in a browser context of its own, `width`×`height` CSS px."""
        context = await self._connection.send("Target.createBrowserContext")
        target = await self._connection.send(
            "Target.createTarget",
            {"url": "about:blank", "browserContextId": context["browserContextId"]},
        )
        attached = await self._connection.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(
            self._connection, attached["sessionId"], context["browserContextId"]
        )
        await page.setup(width, height)
        return page


class Page:
    """One tab: navigate, evaluate, wait, click, type, screenshot."""

    def __init__(self, connection: _Connection, session: str, context: str) -> None:
        """Use `Browser.new_page()`."""
        self._connection = connection
        self._session = session
        self._context = context
        self.errors: list[str] = []
        """Uncaught exceptions of the page's scripts, for a test to assert on."""
        self.viewport = (0, 0)
        """The viewport's width and height in CSS pixels."""
        connection.listeners.append(self._on_event)

    def _on_event(
        self, session: str | None, method: str, params: dict[str, Any]
    ) -> None:
        if session == self._session and method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(
                details.get("exception", {}).get("description") or details["text"]
            )

    async def send(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 60
    ) -> Any:
        """Send any DevTools command to this page and return its result."""
        return await self._connection.send(method, params, self._session, timeout)

    async def setup(self, width: int, height: int) -> None:
        """Set the viewport and the deterministic media: light, English, no motion."""
        for domain in ("Page", "Runtime"):
            await self.send(f"{domain}.enable")
        await self.set_viewport(width, height)
        await self.send(
            "Emulation.setEmulatedMedia",
            {
                "features": [
                    {"name": "prefers-color-scheme", "value": "light"},
                    {"name": "prefers-reduced-motion", "value": "reduce"},
                ]
            },
        )
        await self.send("Emulation.setLocaleOverride", {"locale": "en-US"})
        await self.send("Emulation.setTimezoneOverride", {"timezoneId": "UTC"})
        # Transitions and animations finish at once, so a screenshot never catches one.
        await self.send("Animation.enable")
        await self.send("Animation.setPlaybackRate", {"playbackRate": 1000})

    async def set_viewport(self, width: int, height: int) -> None:
        """Make the viewport `width`×`height` CSS pixels (at 1 device pixel each)."""
        self.viewport = (width, height)
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        await self.wait_until(
            f"innerWidth === {width} && innerHeight === {height} && wsdFrames()",
            what="the page to take the new size",
        )

    async def add_init_script(self, source: str) -> None:
        """Run `source` in every document this page loads, before its own scripts."""
        await self.send("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    async def navigate(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Load `url` and wait for its load event."""
        loaded = asyncio.get_running_loop().create_future()

        def on_load(session: str | None, method: str, _params: dict[str, Any]) -> None:
            if session == self._session and method == "Page.loadEventFired":
                if not loaded.done():
                    loaded.set_result(None)

        self._connection.listeners.append(on_load)
        try:
            result = await self.send("Page.navigate", {"url": url})
            if "errorText" in result:
                raise BrowserError(f"{url}: {result['errorText']}")
            async with asyncio.timeout(timeout):
                await loaded
        except TimeoutError as err:
            raise BrowserError(f"{url} did not load in {timeout} s") from err
        finally:
            self._connection.listeners.remove(on_load)

    async def evaluate(self, expression: str, *, timeout: float = 60) -> Any:
        """Evaluate a JavaScript expression (awaiting a promise); return its JSON value.

        `timeout` bounds a promise that never settles.
        """
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(
                details.get("exception", {}).get("description") or details["text"]
            )
        return result["result"].get("value")

    async def wait_until(
        self, expression: str, *, timeout: float = DEFAULT_TIMEOUT, what: str = ""
    ) -> Any:
        """Poll a JavaScript expression (a promise's value counts) until it is truthy.

        Returns its value; an exception thrown by it counts as false.
        """
        script = f"""(async () => {{
          const end = performance.now() + {timeout * 1000};
          while (performance.now() < end) {{
            try {{
              const value = await ({expression});
              if (value) return value;
            }} catch (e) {{}}
            await new Promise((resolve) => setTimeout(resolve, 50));
          }}
          return null;
        }})()"""
        await self.evaluate(FIND_ELEMENT_JS)
        value = await self.evaluate(script, timeout=timeout + 30)
        if not value:
            raise BrowserError(
                f"timed out after {timeout} s waiting for {what or expression}"
            )
        return value

    async def wait_for(
        self,
        selector: str,
        *,
        text: str | None = None,
        gone: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Wait until an element matches (see the module's docstring for selectors).

        `gone`: wait until none does.
        """
        found = f"wsdFind({json.dumps(selector)}, {json.dumps(text)})"
        what = f"{selector!r}" + (f" with text {text!r}" if text else "")
        await self.wait_until(
            f"!{found}" if gone else f"!!{found}",
            timeout=timeout,
            what=f"{what} to go" if gone else what,
        )

    async def _element_call(
        self, selector: str, text: str | None, body: str, timeout: float
    ) -> Any:
        """Wait for the element, then run `body` with it as `el`; return its value."""
        await self.wait_for(selector, text=text, timeout=timeout)
        return await self.evaluate(
            f"(async (el) => {{ {body} }})"
            f"(wsdFind({json.dumps(selector)}, {json.dumps(text)}))"
        )

    async def click(
        self,
        selector: str,
        *,
        text: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Click the middle of the element with the mouse, as a user would."""
        box = await self._element_call(
            selector,
            text,
            """el.scrollIntoView({block: "center", inline: "center", behavior: "instant"});
               await wsdFrames();
               const r = el.getBoundingClientRect();
               return {x: r.left + r.width / 2, y: r.top + r.height / 2};""",
            timeout,
        )
        for event in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                {"type": event, "x": box["x"], "y": box["y"], "button": "left"}
                | ({} if event == "mouseMoved" else {"clickCount": 1}),
            )

    async def fill(
        self,
        selector: str,
        value: str,
        *,
        text: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Replace the text of the input in (or at) the element, by typing `value`."""
        await self._element_call(
            selector,
            text,
            """const input = el.matches("input, textarea")
                 ? el : wsdFindIn(el, "input, textarea") ?? el;
               input.focus();
               input.select?.();
               return true;""",
            timeout,
        )
        await self.send("Input.insertText", {"text": value})

    async def scroll_into_view(
        self,
        selector: str,
        *,
        text: str | None = None,
        block: str = "start",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Scroll the element's scroll containers so that it shows (`block` as in CSS)."""
        await self._element_call(
            selector,
            text,
            f"el.scrollIntoView({{block: {json.dumps(block)}, behavior: 'instant'}});"
            " return true;",
            timeout,
        )

    async def settle(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Make the page still: no focus (no caret), no hover, images and fonts loaded."""
        width, height = self.viewport
        # The right edge is margin on Home Assistant's pages: nothing shows hovered.
        await self.send(
            "Input.dispatchMouseEvent",
            {"type": "mouseMoved", "x": width - 1, "y": height // 2},
        )
        await self.evaluate(
            """(() => {
              let focused = document.activeElement;
              while (focused?.shadowRoot?.activeElement) {
                focused = focused.shadowRoot.activeElement;
              }
              focused?.blur();
            })()"""
        )
        await self.wait_until(
            "wsdImagesLoaded() && document.fonts.status === 'loaded'",
            timeout=timeout,
            what="images and fonts to load",
        )
        await self.evaluate("wsdFrames()")

    async def screenshot(self, path: Path) -> None:
        """Write the viewport as PNG to `path`, once the page settled."""
        await self.settle()
        result = await self.send("Page.captureScreenshot", {"format": "png"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))

    async def close(self) -> None:
        """Close the tab and forget its browser context (cookies, storage)."""
        self._connection.listeners.remove(self._on_event)
        await self._connection.send(
            "Target.disposeBrowserContext", {"browserContextId": self._context}
        )
