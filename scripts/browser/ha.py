"""A throw-away Home Assistant with this repository's integration and a simulated scanner.

    async with HomeAssistant.start() as ha, Browser.start() as browser:
        page = await browser.new_page()
        await ha.login(page)
        await page.navigate(ha.url + "/config/integrations/dashboard")
        await ha.control("POST", "conditions/jam")        # the simulator's control API
        await ha.api("POST", "/api/services/wsd_scan/scan?return_response", {...})

As `scripts/develop` does, but in a temporary configuration directory (deleted on exit)
and on free ports of 127.0.0.1: `hass` from this repository's development configuration
(`config/configuration.yaml`, with this instance's port and URL), Home Assistant's
network settings limited to the loopback adapter, and the simulator (`python -m
simulator`, `office_mfp` with a loaded feeder and a WS-DSP scan server by default) beside
it. `start()` returns once Home Assistant answers and a user ("Screenshots", password
`screenshots`, English) is onboarded, with `token` its access token for `api()`.

Runs where the project's Python runs (`scripts/run`, or `scripts/browser/chromium python
...` together with a browser); needs no network beyond loopback. On failure the logs of
both processes are printed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass
import json
from pathlib import Path
import socket
import sys
import tempfile
from typing import Any, Self

import aiohttp
from homeassistant.components.http.config import HTTP_STORAGE_SCHEMA
from homeassistant.util.yaml import dump, load_yaml_dict

from .driver import BrowserError, Page

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180.0
USER = {"name": "Screenshots", "username": "screenshots", "password": "screenshots"}


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class HomeAssistant:
    """A running instance: its URL, config directory, simulator and access token."""

    url: str
    config_dir: Path
    simulator: dict[str, str]
    """The simulator's URLs (`device_url`, `control_url`, …) and `uuid`."""
    token: str
    refresh_token: str
    session: aiohttp.ClientSession

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        *,
        simulator_args: tuple[str, ...] = ("--profile", "office_mfp", "--feeder", "10"),
    ) -> AsyncIterator[Self]:
        """Start the simulator and Home Assistant; stop both and clean up on exit."""
        async with contextlib.AsyncExitStack() as stack:
            config_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="wsd-ha-"))
            )
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            _write_config(config_dir, port)
            logs = [config_dir / "simulator.log", config_dir / "hass.log"]
            try:
                simulator = await stack.enter_async_context(
                    _simulator(simulator_args, logs[0])
                )
                await stack.enter_async_context(
                    _process(
                        logs[1],
                        sys.executable,
                        "-m",
                        "homeassistant",
                        "--skip-pip",
                        "--config",
                        str(config_dir),
                    )
                )
                session = await stack.enter_async_context(aiohttp.ClientSession())
                tokens = await _onboard(session, url)
                yield cls(
                    url,
                    config_dir,
                    simulator,
                    tokens["access_token"],
                    tokens["refresh_token"],
                    session,
                )
            except BaseException:
                for log in logs:
                    if log.exists():
                        print(f"==> {log.name}", file=sys.stderr)  # noqa: T201
                        print(log.read_text()[-20000:], file=sys.stderr)  # noqa: T201
                raise

    async def api(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> Any:
        """Call Home Assistant's REST API as the onboarded user; return the JSON answer."""
        async with self.session.request(
            method,
            self.url + path,
            json=payload,
            headers={"Authorization": f"Bearer {self.token}"},
        ) as response:
            if response.status >= 400:
                raise BrowserError(
                    f"{method} {path}: {response.status} {await response.text()}"
                )
            return await response.json()

    async def control(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> Any:
        """Call the simulator's control API (docs/simulator.md)."""
        async with self.session.request(
            method, f"{self.simulator['control_url'].rstrip('/')}/{path}", json=payload
        ) as response:
            response.raise_for_status()
            return await response.json(content_type=None)

    async def login(self, page: Page) -> None:
        """Log `page` in as the onboarded user: the frontend finds its tokens stored."""
        tokens = {
            "hassUrl": self.url,
            "clientId": f"{self.url}/",
            "access_token": self.token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": 1800,
            "expires": 0,  # refreshed at once: the frontend then knows the real expiry
        }
        await page.add_init_script(
            f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))});"
            "localStorage.setItem('selectedLanguage', '\"en\"');"
        )


def _write_config(config_dir: Path, port: int) -> None:
    """Write the development configuration for `port`, the integration linked in."""
    config = load_yaml_dict(ROOT / "config" / "configuration.yaml")
    config["homeassistant"]["internal_url"] = f"http://127.0.0.1:{port}"
    # Home Assistant keeps its HTTP settings in storage: YAML ones are imported as a trial
    # that asks to be confirmed and files a repair issue, neither of which belongs here.
    http = config.pop("http") | {"server_port": port}
    (config_dir / "configuration.yaml").write_text(dump(config))
    (config_dir / "custom_components").symlink_to(ROOT / "custom_components")
    (config_dir / "media").mkdir()
    storage = config_dir / ".storage"
    storage.mkdir()
    stored = {
        "core.network": (1, 1, {"configured_adapters": ["lo"]}),
        "http": (2, 2, _http_storage(http)),
        # Onboarding's location step also sets up weather, radio, text-to-speech and
        # shopping list integrations (from the internet); mark it done beforehand.
        "onboarding": (4, 1, {"done": ["core_config", "analytics"]}),
    }
    for key, (version, minor_version, data) in stored.items():
        (storage / key).write_text(
            json.dumps(
                {
                    "version": version,
                    "minor_version": minor_version,
                    "key": key,
                    "data": data,
                }
            )
        )


def _http_storage(http: dict[str, Any]) -> dict[str, Any]:
    """Home Assistant's stored HTTP settings, confirmed, with `http`'s values."""
    stable = HTTP_STORAGE_SCHEMA(http) | {
        "created_at": "2026-01-01T00:00:00+00:00",
        "error": None,
        "error_message": None,
    }
    return {"stable": stable, "pending": None, "yaml_migration_done": True}


@contextlib.asynccontextmanager
async def _process(
    log: Path, *command: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run `command` with its output in `log`; stop it (SIGTERM, then SIGKILL) on exit."""
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, stdout=output, stderr=asyncio.subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    async with asyncio.timeout(60):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()


@contextlib.asynccontextmanager
async def _simulator(args: tuple[str, ...], log: Path) -> AsyncIterator[dict[str, str]]:
    """Run the simulator with its WS-DSP scan server; yield its URLs."""
    async with _process(
        log,
        sys.executable,
        "-m",
        "simulator",
        "--interface",
        "127.0.0.1",
        "--scan-server",
        *args,
    ) as process:
        async with asyncio.timeout(60):
            while process.returncode is None:
                lines = log.read_text().splitlines()
                if lines and lines[0].startswith("{"):
                    info: dict[str, str] = json.loads(lines[0])
                    break
                await asyncio.sleep(0.1)
            else:
                raise BrowserError(f"the simulator exited: {log.read_text()}")
        yield info


async def _onboard(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Wait for Home Assistant; onboard the user and finish onboarding; return tokens."""
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/api/onboarding") as response:
                    if response.status == 200:
                        break
            await asyncio.sleep(0.25)
    client_id = f"{url}/"
    async with session.post(
        f"{url}/api/onboarding/users",
        json={"client_id": client_id, "language": "en"} | USER,
    ) as response:
        response.raise_for_status()
        auth_code = (await response.json())["auth_code"]
    async with session.post(
        f"{url}/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": auth_code,
            "client_id": client_id,
        },
    ) as response:
        response.raise_for_status()
        tokens: dict[str, Any] = await response.json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with session.post(
        f"{url}/api/onboarding/integration",
        json={"client_id": client_id, "redirect_uri": f"{url}/?auth_callback=1"},
        headers=headers,
    ) as response:
        response.raise_for_status()
    return tokens
