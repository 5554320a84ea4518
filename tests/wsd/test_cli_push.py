"""`scripts/wsd push` across a scanner's power cycle, against the simulator over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from custom_components.wsd_scan.wsd import DiscoveryListener, ErrorKind, WsdError
from custom_components.wsd_scan.wsd.cli import run
from simulator import SimulatedScanner
from simulator.soap import WSE, SoapFault

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: How soon after a scanner's Hello its panel entry must be back (issue 12).
AFTER_HELLO = 10.0


async def press_and_wait_for_the_scan(sim: SimulatedScanner, scans: int) -> None:
    """Press Scan on the panel once the entry is there; wait until `scans` jobs ended."""
    while not sim.press_scan_button("Home Assistant"):
        await asyncio.sleep(
            0.05
        )  # polling a condition: the entry is not registered yet
    while len(sim.jobs) < scans or not all(job.terminal for job in sim.jobs.values()):
        await asyncio.sleep(0.05)


async def test_push_registers_again_after_a_reboot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, udp_port: int
) -> None:
    """The scanner restarts and forgets the entry: its Hello brings the entry back."""
    async with SimulatedScanner(
        profile="office_mfp", discovery=True, udp_port=udp_port
    ) as sim:
        command = asyncio.create_task(
            run(
                [
                    "push",
                    sim.device_url,
                    "--destination",
                    "Home Assistant",
                    "--out",
                    str(tmp_path),
                    "--count",
                    "2",
                    "--discovery-port",
                    str(udp_port),
                ]
            )
        )
        try:
            async with asyncio.timeout(30):  # a hang guard
                await press_and_wait_for_the_scan(sim, 1)
            async with asyncio.timeout(AFTER_HELLO):
                await sim.reboot()
                await press_and_wait_for_the_scan(sim, 1)  # the reboot forgot the jobs
            assert await asyncio.wait_for(command, 30) == 0
        finally:
            command.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await command
        assert not sim.subscriptions
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["pages"] for line in lines] == [1, 1]
    assert not sim.push_scan_failures


async def test_push_fails_when_the_scanner_refuses_the_entry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused Subscribe is the command's failure, named on stderr."""

    def refuse(*_args: object) -> None:
        raise SoapFault.receiver(WSE, "EventSourceUnableToProcess", "no free slot")

    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        monkeypatch.setattr(sim.events, "subscribe", refuse)
        status = await run(
            ["push", sim.device_url, "--destination", "HA", "--out", str(tmp_path)]
        )
    assert status == 1
    assert "EventSourceUnableToProcess" in capsys.readouterr().err


async def test_push_without_hello_still_scans(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where Hello cannot be heard the command says so, and works all the same."""

    async def cannot_listen(_listener: object) -> None:
        # As on a machine where another program holds UDP 3702 exclusively.
        raise WsdError(ErrorKind.UNREACHABLE, "cannot listen for WS-Discovery")

    monkeypatch.setattr(DiscoveryListener, "start", cannot_listen)
    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        command = asyncio.create_task(
            run(
                [
                    "push",
                    sim.device_url,
                    "--destination",
                    "Home Assistant",
                    "--out",
                    str(tmp_path),
                ]
            )
        )
        try:
            async with asyncio.timeout(30):  # a hang guard
                await press_and_wait_for_the_scan(sim, 1)
            assert await asyncio.wait_for(command, 30) == 0
        finally:
            command.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await command
    assert "not listening for the scanner's Hello" in capsys.readouterr().err
