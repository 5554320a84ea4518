"""The HTTP control API, profiles against the captures, and the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
from pathlib import Path

import aiohttp
from lxml import etree
import pytest

from simulator import PROFILES, SimulatedScanner
from simulator.__main__ import build_parser, main, serve

from .conftest import SCAN, Client

pytestmark = pytest.mark.usefixtures("socket_enabled")
CAPTURE = (
    Path(__file__).parent
    / "data"
    / "KYOCERA-ECOSYS_M2040dn-GetScannerElementsResponse.xml"
)


async def test_control_api_mirrors_the_methods(session: aiohttp.ClientSession) -> None:
    """Every control route drives the device like the in-process method."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        base = sim.control_url

        async def call(
            method: str, path: str, payload: object = None
        ) -> tuple[int, dict[str, object]]:
            async with session.request(method, base + path, json=payload) as response:
                data = (
                    await response.json()
                    if response.content_type == "application/json"
                    else {}
                )
                return response.status, data

        assert (await call("POST", "/feeder", {"sheets": 4}))[1] == {"feeder": 4}
        assert (await call("POST", "/feeder", {"sheets": -1}))[0] == 400
        async with session.post(base + "/feeder", data=b"nope") as response:
            assert response.status == 400
        async with session.post(base + "/feeder", json=[1]) as response:
            assert response.status == 400
        assert (await call("POST", "/button", {"destination": "x"}))[1] == {"ok": False}
        _status, state = await call("POST", "/conditions/CoverOpen")
        assert state["scanner_state"] == "Stopped"
        _status, state = await call("DELETE", "/conditions/CoverOpen")
        assert state["scanner_state"] == "Idle"
        _status, state = await call("POST", "/name", {"name": "Hall"})
        assert sim.service.scanner_name == "Hall"
        old_instance = sim.sequence.instance_id
        _status, state = await call("POST", "/reboot")
        assert state["instance_id"] > old_instance
        _status, state = await call("PUT", "/quirks", {"quirks": ["fault_in_http_200"]})
        assert state["quirks"] == ["fault_in_http_200"]
        assert (await call("PUT", "/quirks", {"quirks": ["nope"]}))[0] == 400
        _status, state = await call("POST", "/online", {"online": False})
        assert state["online"] is False
        with pytest.raises(aiohttp.ClientConnectionError):
            await Client(session, sim).post(sim.scan_url, b"")
        _status, state = await call("POST", "/online", {"online": True})
        assert state["online"] is True
        await sim.set_online(True)
        _status, state = await call("GET", "/state")
        assert state["feeder"] == 4 and state["uuid"] == sim.uuid
        with pytest.raises(ValueError):
            sim.load_feeder(-2)


def _canonical(node: etree._Element) -> list[tuple[str, str]]:
    return [
        (etree.QName(el).localname, (el.text or "").strip())
        for el in node.iter()
        if isinstance(el.tag, str)
    ]


async def test_kyocera_profile_matches_the_capture(
    session: aiohttp.ClientSession,
) -> None:
    """The Kyocera profile answers with the captured description, configuration and ticket."""
    capture = etree.parse(str(CAPTURE)).getroot()
    names = "".join(
        f"<sca:Name>sca:{n}</sca:Name>"
        for n in ("ScannerDescription", "ScannerConfiguration", "DefaultScanTicket")
    )
    async with SimulatedScanner("kyocera_m2040dn", discovery=False) as sim:
        _status, reply = await Client(session, sim).call(
            "GetScannerElements",
            f"<sca:GetScannerElementsRequest><sca:RequestedElements>{names}</sca:RequestedElements></sca:GetScannerElementsRequest>",
        )
    for section in ("ScannerDescription", "ScannerConfiguration", "DefaultScanTicket"):
        ours = reply.find(f".//{{{SCAN}}}{section}")
        theirs = capture.find(f".//{{{SCAN}}}{section}")
        assert ours is not None and theirs is not None
        assert _canonical(ours) == _canonical(theirs), section
    assert reply.prefix == "SOAP-ENV"


def test_profiles_are_consistent() -> None:
    """Every profile's default ticket finalises without substitutions of its own making."""
    for profile in PROFILES.values():
        final = profile.finalize(profile.default_ticket)
        assert final.format in profile.formats
        assert final.input_source in profile.input_sources


async def test_serve_prints_urls_and_stops(capsys: pytest.CaptureFixture[str]) -> None:
    """`serve` prints one JSON line with the URLs and returns when stopped."""
    stop = asyncio.Event()
    options = build_parser().parse_args(
        [
            "--no-discovery",
            "--feeder",
            "2",
            "--scan-server",
            "--profile",
            "photo_flatbed",
        ]
    )
    task = asyncio.create_task(serve(options, stop))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if capsys.readouterr().out if False else None:
            break
    await asyncio.sleep(0.2)
    stop.set()
    await task
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["profile"] == "photo_flatbed" and info["scan_server_url"].startswith(
        "http://127.0.0.1:"
    )


def test_main_lists_quirks() -> None:
    """`--list-quirks` documents every quirk with its device."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--list-quirks"]) == 0
    assert "Lexmark MX310dn" in out.getvalue()
    assert isinstance(build_parser().parse_args([]), argparse.Namespace)
