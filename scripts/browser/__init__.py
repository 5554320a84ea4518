"""Drive a real Home Assistant in headless Chromium: screenshots and browser tests.

- `driver`: `Browser` and `Page`, a small DevTools-protocol client (aiohttp only).
- `ha`: `HomeAssistant`, a throw-away instance with the integration and the simulator.
- `chromium`: the shell script that starts Chromium on this machine (see `driver`).

    scripts/browser/chromium python -m scripts.browser.smoke
"""
