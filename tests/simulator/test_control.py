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
        _status, state = await call("POST", "/reboot", {"hello": False})
        assert state["instance_id"] > old_instance + 1
        _status, state = await call("PUT", "/settings", {"blank_backs": True})
        assert state["settings"]["blank_backs"] is sim.settings.blank_backs is True
        _status, state = await call(
            "PUT", "/settings", {"jam_after_images": 2, "retrieve_timeout": 5}
        )
        assert (sim.settings.jam_after_images, sim.settings.retrieve_timeout) == (2, 5)
        _status, state = await call("PUT", "/settings", {"jam_after_images": None})
        assert sim.settings.jam_after_images is None
        for wrong in (
            {"blank_backs": 1},
            {"retrieve_timeout": True},
            {"history_length": 1.5},
            {"retrieve_timeout": None},
            {"retrieve_timeout": "5"},
            {"no_such_setting": True},
        ):
            assert (await call("PUT", "/settings", wrong))[0] == 400, wrong
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


async def test_serve_prints_urls_and_stops(
    capsys: pytest.CaptureFixture[str], session: aiohttp.ClientSession
) -> None:
    """`serve` prints one JSON line with the URLs, applies options, stops when told."""
    stop = asyncio.Event()
    options = build_parser().parse_args(
        [
            "--no-discovery",
            "--feeder",
            "2",
            "--blank-backs",
            "--scan-server",
            "--profile",
            "photo_flatbed",
        ]
    )
    task = asyncio.create_task(serve(options, stop))
    printed = ""
    async with asyncio.timeout(30):
        while not printed:
            await asyncio.sleep(0.01)
            printed = capsys.readouterr().out
    info = json.loads(printed.strip().splitlines()[-1])
    async with session.get(info["control_url"] + "/state") as response:
        state = await response.json()
    stop.set()
    await task
    assert info["profile"] == "photo_flatbed" and info["scan_server_url"].startswith(
        "http://127.0.0.1:"
    )
    assert (state["feeder"], state["settings"]["blank_backs"]) == (2, True)


def test_main_lists_quirks() -> None:
    """`--list-quirks` documents every quirk with its device."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--list-quirks"]) == 0
    assert "Lexmark MX310dn" in out.getvalue()
    assert isinstance(build_parser().parse_args([]), argparse.Namespace)
