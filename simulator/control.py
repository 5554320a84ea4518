"""HTTP control API: the in-process control methods of `SimulatedScanner`, over JSON.

Routes (all under /control): GET state; POST feeder {"sheets"}; POST button
{"destination"}; POST/DELETE conditions/{name}; POST reboot {"hello"}; POST online
{"online"}; POST name {"name"}; PUT quirks {"quirks": [...]}; PUT settings {name: value}.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, Protocol

from aiohttp import web

from .discovery import AppSequence
from .eventing import Subscription
from .jobs import Job
from .profiles import Profile
from .quirks import Quirk
from .scan_service import PushScanFailure, ScanService
from .settings import Settings


class SimulatedScanner(Protocol):
    """What the control API uses of `scanner.SimulatedScanner` (which imports this)."""

    uuid: str
    profile: Profile
    online: bool
    sequence: AppSequence
    quirks: set[Quirk]
    settings: Settings
    service: ScanService

    @property
    def device_url(self) -> str: ...  # noqa: D102 - see SimulatedScanner
    @property
    def scan_url(self) -> str: ...  # noqa: D102
    @property
    def probe_url(self) -> str: ...  # noqa: D102
    @property
    def control_url(self) -> str: ...  # noqa: D102
    @property
    def feeder(self) -> int: ...  # noqa: D102
    @property
    def jobs(self) -> dict[int, Job]: ...  # noqa: D102
    @property
    def subscriptions(self) -> dict[str, Subscription]: ...  # noqa: D102
    @property
    def push_scan_failures(self) -> list[PushScanFailure]: ...  # noqa: D102
    def load_feeder(self, sheets: int) -> None: ...  # noqa: D102
    def press_scan_button(self, destination: str) -> bool: ...  # noqa: D102
    def raise_condition(self, name: str) -> None: ...  # noqa: D102
    def clear_condition(self, name: str) -> None: ...  # noqa: D102
    async def reboot(self, *, hello: bool = True) -> None: ...  # noqa: D102
    async def set_online(self, online: bool) -> None: ...  # noqa: D102
    def set_scanner_name(self, name: str) -> None: ...  # noqa: D102


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError as err:
        raise web.HTTPBadRequest(text="body must be JSON") from err
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


def state_of(sim: SimulatedScanner) -> dict[str, Any]:
    """Return a JSON-able snapshot of the device."""
    state, reasons = sim.service.summary()
    return {
        "uuid": sim.uuid,
        "profile": sim.profile.name,
        "online": sim.online,
        "device_url": sim.device_url,
        "scan_url": sim.scan_url,
        "probe_url": sim.probe_url,
        "control_url": sim.control_url,
        "instance_id": sim.sequence.instance_id,
        "quirks": sorted(sim.quirks),
        "settings": asdict(sim.settings),
        "feeder": sim.feeder,
        "scanner_state": state,
        "scanner_state_reasons": list(reasons),
        "jobs": [
            {
                "id": job.id,
                "state": job.state,
                "reasons": job.reasons,
                "images": job.delivered,
            }
            for job in sim.jobs.values()
        ],
        "subscriptions": [
            {
                "id": s.id,
                "notify_to": s.notify_to,
                "destinations": [d.client_context for d in s.destinations],
            }
            for s in sim.subscriptions.values()
        ],
        "push_scan_failures": [
            {
                "scan_identifier": f.scan_identifier,
                "destination": f.destination,
                "reason": f.reason,
            }
            for f in sim.push_scan_failures
        ],
    }


def control_routes(sim: SimulatedScanner) -> list[web.RouteDef]:
    """Return the control API routes of one simulated scanner."""

    async def get_state(_request: web.Request) -> web.Response:
        return web.json_response(state_of(sim))

    async def feeder(request: web.Request) -> web.Response:
        sheets = (await _json(request)).get("sheets")
        if not isinstance(sheets, int) or sheets < 0:
            raise web.HTTPBadRequest(text="sheets must be a non-negative integer")
        sim.load_feeder(sheets)
        return web.json_response({"feeder": sim.feeder})

    async def button(request: web.Request) -> web.Response:
        destination = str((await _json(request)).get("destination", ""))
        return web.json_response({"ok": sim.press_scan_button(destination)})

    async def raise_condition(request: web.Request) -> web.Response:
        sim.raise_condition(request.match_info["name"])
        return web.json_response(state_of(sim))

    async def clear_condition(request: web.Request) -> web.Response:
        sim.clear_condition(request.match_info["name"])
        return web.json_response(state_of(sim))

    async def reboot(request: web.Request) -> web.Response:
        # No body: a reboot with Hello. {"hello": false}: a device that stays silent.
        hello = (
            (await _json(request)).get("hello", True) if request.can_read_body else True
        )
        await sim.reboot(hello=bool(hello))
        return web.json_response(state_of(sim))

    async def online(request: web.Request) -> web.Response:
        await sim.set_online(bool((await _json(request)).get("online", True)))
        return web.json_response(state_of(sim))

    async def rename(request: web.Request) -> web.Response:
        sim.set_scanner_name(str((await _json(request)).get("name", "")))
        return web.json_response(state_of(sim))

    async def quirks(request: web.Request) -> web.Response:
        names = (await _json(request)).get("quirks", [])
        try:
            wanted = {Quirk(name) for name in names}
        except ValueError as err:
            raise web.HTTPBadRequest(text=str(err)) from err
        sim.quirks.clear()
        sim.quirks.update(wanted)
        return web.json_response(state_of(sim))

    async def settings(request: web.Request) -> web.Response:
        changes = await _json(request)
        for name, value in changes.items():
            if not _fits(name, value):
                raise web.HTTPBadRequest(text=f"cannot set {name} to {value!r}")
        for name, value in changes.items():
            setattr(sim.settings, name, value)
        return web.json_response(state_of(sim))

    return [
        web.get("/control/state", get_state),
        web.post("/control/feeder", feeder),
        web.post("/control/button", button),
        web.post("/control/conditions/{name}", raise_condition),
        web.delete("/control/conditions/{name}", clear_condition),
        web.post("/control/reboot", reboot),
        web.post("/control/online", online),
        web.post("/control/name", rename),
        web.put("/control/quirks", quirks),
        web.put("/control/settings", settings),
    ]


_SETTING_TYPES = {field.name: field.type for field in fields(Settings)}


def _fits(name: str, value: object) -> bool:
    """Whether `value` is of the type the `Settings` field `name` is declared with."""
    declared = _SETTING_TYPES.get(name)
    if declared is None:
        return False
    if value is None:
        return "None" in str(declared)
    if isinstance(value, bool):
        return str(declared).startswith("bool")
    if isinstance(value, int):
        return str(declared).startswith(("int", "float"))
    return isinstance(value, float) and str(declared).startswith("float")
