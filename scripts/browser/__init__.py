"""Drive a real Home Assistant in headless Chromium: screenshots and browser tests.

- `driver`: `Browser` and `Page`, a small DevTools-protocol client (aiohttp only).
- `ha`: `HomeAssistant`, a throw-away instance with the integration and simulators.
- `chromium`: the shell script that runs a command beside headless Chromium, both in a
  network namespace with only a loopback adapter (see `driver`).
- `screenshots`: the README's screenshots (`scripts/screenshots` runs it).

    scripts/browser/chromium python -m scripts.browser.screenshots
"""
