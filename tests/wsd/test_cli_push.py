"""`scripts/wsd push`: panel scans, and across a scanner's power cycle, over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import json
from pathlib import Path

import pytest

from custom_components.wsd_scan.wsd import DiscoveryListener, ErrorKind, WsdError
from custom_components.wsd_scan.wsd.cli import run
from simulator import Settings, SimulatedScanner

pytestmark = pytest.mark.usefixtures("socket_enabled")

#: How soon after a scanner's Hello its panel entry must be back (issue 12).
AFTER_HELLO = 10.0

type StartPush = Callable[..., asyncio.Task[int]]


@pytest.fixture
async def push(tmp_path: Path) -> AsyncIterator[StartPush]:
    """Start `push` commands for the "Home Assistant" entry; stop them after the test.

    `push(sim, *options)` stores the scans in the test's `scans` folder.
    """
    commands: list[asyncio.Task[int]] = []

    def start(sim: SimulatedScanner, *options: str) -> asyncio.Task[int]:
        arguments = ["push", sim.device_url, "--destination", "Home Assistant"]
        command = asyncio.create_task(
            run([*arguments, "--out", str(tmp_path / "scans"), *options])
        )
        commands.append(command)
        return command

    yield start
    for command in commands:
        command.cancel()
    await asyncio.gather(*commands, return_exceptions=True)


async def press_and_wait_for_the_scan(sim: SimulatedScanner, scans: int) -> None:
    """Press Scan on the panel once the entry is there; wait until `scans` jobs ended."""
    while not sim.press_scan_button("Home Assistant"):
        await asyncio.sleep(0.05)  # polling a condition: the entry is not there yet
    while len(sim.jobs) < scans or not all(job.terminal for job in sim.jobs.values()):
        await asyncio.sleep(0.05)


async def test_push_scans_each_panel_press(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, push: StartPush
) -> None:
    """`push` registers a destination, and every press of it stores one scan."""
    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        sim.load_feeder(1)
        command = push(sim, "--count", "2")
        async with asyncio.timeout(30):  # a hang guard
            for presses in (1, 2):
                await press_and_wait_for_the_scan(sim, presses)
            assert await command == 0
        assert not sim.subscriptions
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["pages"] for line in lines] == [1, 1]
    assert sorted(p.name for p in (tmp_path / "scans").iterdir()) == [
        "scan-001.pdf",
        "scan-002.pdf",
    ]
    assert not sim.push_scan_failures


async def test_push_registers_again_after_a_reboot(
    capsys: pytest.CaptureFixture[str], udp_port: int, push: StartPush
) -> None:
    """The scanner restarts and forgets the entry: its Hello brings the entry back."""
    async with SimulatedScanner(
        profile="office_mfp", discovery=True, udp_port=udp_port
    ) as sim:
        command = push(sim, "--count", "2", "--discovery-port", str(udp_port))
        async with asyncio.timeout(30):  # a hang guard
            await press_and_wait_for_the_scan(sim, 1)
        async with asyncio.timeout(AFTER_HELLO):
            await sim.reboot()
            await press_and_wait_for_the_scan(sim, 1)  # the reboot forgot the jobs
        async with asyncio.timeout(30):
            assert await command == 0
        assert not sim.subscriptions
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["pages"] for line in lines] == [1, 1]
    assert not sim.push_scan_failures


async def test_push_fails_when_the_scanner_refuses_the_entry(
    capsys: pytest.CaptureFixture[str], push: StartPush
) -> None:
    """A refused Subscribe is the command's failure, named on stderr."""
    async with SimulatedScanner(
        profile="office_mfp", discovery=False, settings=Settings(subscription_slots=0)
    ) as sim:
        async with asyncio.timeout(30):
            assert await push(sim) == 1
    assert "EventSourceUnableToProcess" in capsys.readouterr().err


async def test_push_without_hello_still_scans(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    push: StartPush,
) -> None:
    """Where Hello cannot be heard the command says so, and works all the same."""

    async def cannot_listen(_listener: object) -> None:
        # As on a machine where another program holds UDP 3702 exclusively.
        raise WsdError(ErrorKind.UNREACHABLE, "cannot listen for WS-Discovery")

    monkeypatch.setattr(DiscoveryListener, "start", cannot_listen)
    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        command = push(sim)
        async with asyncio.timeout(30):  # a hang guard
            await press_and_wait_for_the_scan(sim, 1)
            assert await command == 0
    assert "not listening for the scanner's Hello" in capsys.readouterr().err
