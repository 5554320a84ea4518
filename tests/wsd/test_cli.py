"""`scripts/wsd`: every command against the simulator over loopback."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
import subprocess
import sys

from aiohttp import web
import pikepdf
import pytest

from custom_components.wsd_scan.wsd.cli import local_addresses, run
from simulator import ScanServer, Settings, SimulatedScanner
from tests.loopback import DeviceFactory

from .conftest import CAPTURES, Tls

pytestmark = pytest.mark.usefixtures("socket_enabled")

LIBRARY_PARENT = Path(__file__).parents[2] / "custom_components" / "wsd_scan"


def _output(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


async def test_discover_lists_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    """`discover --json` probes through the given interface and describes each scanner."""
    async with SimulatedScanner(profile="office_mfp", discovery=True) as sim:
        status = await run(
            ["discover", "--interface", "127.0.0.1", "--timeout", "1", "--json"]
        )
    assert status == 0
    devices = _output(capsys)
    assert isinstance(devices, list)
    (entry,) = [device for device in devices if device["uuid"] == sim.uuid]
    assert set(entry) == {
        "uuid",
        "name",
        "manufacturer",
        "model",
        "scan_service_url",
        "xaddrs",
    }
    assert entry["scan_service_url"] == sim.scan_url
    assert entry["xaddrs"][0] == sim.device_url


async def test_discover_prints_names_without_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --json, one line per scanner: its name and its address."""
    async with SimulatedScanner(profile="photo_flatbed", discovery=True) as sim:
        assert (
            await run(["discover", "--interface", "127.0.0.1", "--timeout", "1"]) == 0
        )
    assert sim.device_url in capsys.readouterr().out


@pytest.mark.parametrize("by_url", [False, True])
async def test_info_by_host_or_url(
    capsys: pytest.CaptureFixture[str], by_url: bool
) -> None:
    """`info` resolves host:port with a directed probe, or takes the device URL."""
    async with SimulatedScanner(profile="kyocera_m2040dn", discovery=False) as sim:
        target = sim.device_url if by_url else sim.device_url.split("/")[2]
        assert await run(["info", target, "--json"]) == 0
    info = _output(capsys)
    assert isinstance(info, dict)
    assert set(info) == {"device", "quirks", "capabilities", "status"}
    assert info["device"]["uuid"] == sim.uuid
    assert info["device"]["manufacturer"] == "Kyocera"
    assert info["quirks"] == []
    assert info["capabilities"]["platen"] is not None
    assert info["status"]["state"] == "idle"


async def test_scan_feeder_duplex_to_pdf(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`scan` writes one PDF with every side of every sheet, front then back."""
    out = tmp_path / "out" / "letter.pdf"
    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        sim.load_feeder(2)
        host = sim.device_url.split("/")[2]
        status = await run(
            [
                "scan",
                host,
                "--source",
                "adf-duplex",
                "--format",
                "pdf",
                "--out",
                str(out),
            ]
        )
    assert status == 0
    assert _output(capsys) == {"pages": 4, "files": [str(out)], "format": "pdf"}
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 4
    assert [p.name for p in out.parent.iterdir()] == ["letter.pdf"]


async def test_scan_skipping_blank_pages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`scan --skip-blank[=N]` keeps the simulator's pages of text, and says so."""
    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        for flag, name in (("--skip-blank", "a.pdf"), ("--skip-blank=100", "b.pdf")):
            sim.load_feeder(1)
            out = tmp_path / name
            status = await run(
                [
                    "scan",
                    sim.device_url,
                    "--source",
                    "adf-duplex",
                    "--out",
                    str(out),
                    flag,
                ]
            )
            assert status == 0
            assert _output(capsys) == {
                "pages": 2,
                "files": [str(out)],
                "format": "pdf",
                "blank_pages_skipped": 0,
            }


async def test_scan_platen_to_png_pages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An image format gives one file; the default source is the platen."""
    out = tmp_path / "photo.png"
    async with SimulatedScanner(profile="photo_flatbed", discovery=False) as sim:
        status = await run(
            [
                "scan",
                sim.device_url,
                "--format",
                "png",
                "--color",
                "gray",
                "--resolution",
                "100",
                "--paper",
                "a5",
                "--out",
                str(out),
            ]
        )
    assert status == 0
    assert _output(capsys) == {"pages": 1, "files": [str(out)], "format": "png"}
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("condition", "message"),
    [("MediaJam", "paper jam"), ("CoverOpen", "cover is open")],
)
async def test_scan_failure_is_one_line_naming_the_cause(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, condition: str, message: str
) -> None:
    """A device problem: exit 1 and one human line on stderr."""
    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        sim.raise_condition(condition)
        status = await run(["scan", sim.device_url, "--out", str(tmp_path / "x.pdf")])
    assert status == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message in error


async def test_info_and_scan_of_a_quirky_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The Ricoh Aficio MP 201: `info` names its quirk, `scan` gets every sheet."""
    async with SimulatedScanner(profile="ricoh_mp201", discovery=False) as sim:
        assert await run(["info", sim.device_url]) == 0
        info = _output(capsys)
        assert isinstance(info, dict)
        assert info["quirks"] == ["feeder_images_to_transfer_100"]
        sim.load_feeder(3)
        out = tmp_path / "ricoh.pdf"
        command = ["scan", sim.device_url, "--source", "adf", "--resolution", "75"]
        assert await run([*command, "--out", str(out)]) == 0
    assert _output(capsys) == {"pages": 3, "files": [str(out)], "format": "pdf"}
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 3


async def test_pages_before_a_failure_are_kept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A jam after two pages: the two are written, stderr says so, exit 1."""
    out = tmp_path / "jammed.pdf"
    async with SimulatedScanner(
        profile="office_mfp", discovery=False, settings=Settings(jam_after_images=2)
    ) as sim:
        sim.load_feeder(4)
        command = ["scan", sim.device_url, "--source", "adf", "--resolution", "75"]
        assert await run([*command, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    kept, error = captured.err.splitlines()
    assert kept == f"kept 2 pages scanned before the error: {out}"
    assert error.startswith("error: paper jam")
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) == 2
    assert not list(tmp_path.glob(".wsd-scan-*"))


async def test_scan_of_an_empty_feeder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No sheets in the feeder is reported as such."""
    async with SimulatedScanner(profile="office_mfp", discovery=False) as sim:
        status = await run(
            [
                "scan",
                sim.device_url,
                "--source",
                "adf",
                "--out",
                str(tmp_path / "x.pdf"),
            ]
        )
    assert status == 1
    error = capsys.readouterr().err
    assert "feeder is empty" in error
    assert "kept" not in error
    assert not (tmp_path / "x.pdf").exists()


async def test_unreachable_and_invalid_devices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A closed port is 'unreachable' (exit 1); a malformed host is a usage error (2)."""
    assert await run(["info", "127.0.0.1:1"]) == 1
    assert "unreachable" in capsys.readouterr().err
    assert await run(["info", "no host:x"]) == 2
    assert "invalid argument" in capsys.readouterr().err


async def test_post_scan_uploads_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`post-scan` sends the files as one job and prints the job's state."""
    document = tmp_path / "scan.pdf"
    document.write_bytes(b"%PDF-1.4\n%%EOF\n")
    async with ScanServer() as server:
        status = await run(
            ["post-scan", server.url, str(document), "--document-root", "Letters"]
        )
    assert status == 0
    result = _output(capsys)
    assert isinstance(result, dict)
    assert result["state"] == "Completed"
    assert result["images_received"] == 1
    assert server.jobs[result["job_token"]].document_root_name == "Letters"


async def test_post_scan_to_a_host_with_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ENDPOINT may be host:port; user, process id and filters reach the server."""
    document = tmp_path / "scan.pdf"
    document.write_bytes(b"%PDF-1.4\n%%EOF\n")
    dialect = (
        "http://schemas.microsoft.com/windows/2007/10/imaging/postscan/filter/email"
    )
    async with ScanServer() as server:
        status = await run(
            [
                "post-scan",
                f"127.0.0.1:{server.port}",
                str(document),
                "--user",
                "S-1-5-21-7",
                "--process-id",
                "PSP-7",
                "--filter",
                dialect,
            ]
        )
    assert status == 0
    result = _output(capsys)
    assert isinstance(result, dict)
    assert result["endpoint"] == server.url
    job = server.jobs[result["job_token"]]
    assert (job.user, job.psp_identifier, job.filters) == (
        "S-1-5-21-7",
        "PSP-7",
        [dialect],
    )


async def test_post_scan_over_https(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tls: Tls
) -> None:
    """--ca-file trusts a CA, --insecure skips verification; both together are refused."""
    document = tmp_path / "scan.pdf"
    document.write_bytes(b"%PDF-1.4\n%%EOF\n")
    async with ScanServer(ssl_context=tls.server_context) as server:
        trusted = await run(
            ["post-scan", server.url, str(document), "--ca-file", str(tls.ca_file)]
        )
        insecure = await run(["post-scan", server.url, str(document), "--insecure"])
        both = await run(
            [
                "post-scan",
                server.url,
                str(document),
                "--insecure",
                "--ca-file",
                str(tls.ca_file),
            ]
        )
    assert (trusted, insecure, both) == (0, 0, 2)
    assert "CA file" in capsys.readouterr().err
    assert [job.state for job in server.jobs.values()] == ["Completed"] * 2


def test_the_tool_runs_without_home_assistant() -> None:
    """The library stands alone: the module entry point imports no Home Assistant code."""
    probe = (
        "import runpy, sys; sys.argv = ['wsd', '--help']\n"
        "try:\n    runpy.run_module('wsd.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "assert not [m for m in sys.modules if m.startswith('homeassistant')], 'HA imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=os.environ | {"PYTHONPATH": str(LIBRARY_PARENT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "discover" in result.stdout


def test_local_addresses_leave_out_loopback() -> None:
    """The default discovery interfaces are this machine's IPv4 addresses, no loopback."""
    assert all(
        ipaddress.IPv4Address(address).version == 4 and not address.startswith("127.")
        for address in local_addresses()
    )


async def test_a_device_url_without_directed_probe_still_works(
    capsys: pytest.CaptureFixture[str], http_device: DeviceFactory
) -> None:
    """A device answering Get at its URL but 404 to the probe is described by its URL.

    The "device" replays the Kyocera ECOSYS M2040dn captures, moved to loopback.
    """
    address = "http://192.168.1.102:5358"
    captured = {
        name: (CAPTURES / f"KYOCERA-ECOSYS_M2040dn-{name}.xml").read_bytes()
        for name in ("MetadataGetResponse", "GetScannerElementsResponse")
    }

    async def device(request: web.Request) -> web.Response:
        if request.path.startswith("/StableWSDiscoveryEndpoint"):
            return web.Response(status=404)
        name = (
            "GetScannerElementsResponse"
            if b"GetScannerElements" in await request.read()
            else "MetadataGetResponse"
        )
        body = captured[name].replace(address.encode(), base.encode())
        return web.Response(body=body, content_type="application/soap+xml")

    base = await http_device(device)
    assert await run(["info", f"{base}/wsd/device"]) == 0
    info = _output(capsys)
    assert isinstance(info, dict)
    assert info["device"]["model"] == "ECOSYS M2040dn"
    assert info["device"]["scan_service_url"] == f"{base}/WSDScanner"
    assert info["capabilities"]["adf_front"] is not None


async def test_a_host_that_is_no_scanner(
    capsys: pytest.CaptureFixture[str], http_device: DeviceFactory
) -> None:
    """A host whose probe endpoint answers 202 (no match) is 'not supported'."""

    async def no_match(request: web.Request) -> web.Response:
        return web.Response(status=202)

    url = await http_device(no_match)
    assert await run(["info", url.split("/")[2]]) == 1
    assert "does not support" in capsys.readouterr().err


async def test_file_errors_are_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An output path that cannot be written ends in one error line, exit 1."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    async with SimulatedScanner(profile="photo_flatbed", discovery=False) as sim:
        status = await run(["scan", sim.device_url, "--out", str(blocker / "x.pdf")])
    assert status == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_main_exit_status_through_a_real_process() -> None:
    """`python -m wsd.cli` exits non-zero with one line on stderr for an unreachable host."""
    result = subprocess.run(
        [sys.executable, "-m", "wsd.cli", "info", "127.0.0.1:1"],
        env=os.environ | {"PYTHONPATH": str(LIBRARY_PARENT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: the scanner is unreachable")
