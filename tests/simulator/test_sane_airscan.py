"""Proof of faithfulness: sane-airscan (a real, independent WSD client) scans from the simulator.

Skipped when `scanimage` is not installed. Each test points a private SANE config
(airscan backend only, discovery off, one `[devices]` entry) at a simulator running in
the test's event loop, runs `scanimage` as a subprocess and decodes what it wrote.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import shutil

from PIL import Image
import pytest

from simulator import Quirk, SimulatedScanner

pytestmark = [
    pytest.mark.usefixtures("socket_enabled"),
    pytest.mark.skipif(
        shutil.which("scanimage") is None, reason="scanimage not installed"
    ),
]

DEVICE = "airscan:w0:Sim"


async def scanimage(
    sim: SimulatedScanner, workdir: Path, *args: str
) -> tuple[int, str]:
    """Run scanimage against `sim` with a private SANE config; return (exit code, stderr)."""
    config = workdir / "sane"
    config.mkdir(exist_ok=True)
    (config / "airscan.conf").write_text(
        f'[devices]\n"Sim" = {sim.scan_url}, WSD\n[options]\ndiscovery = disable\n'
    )
    (config / "dll.conf").write_text("airscan\n")
    process = await asyncio.create_subprocess_exec(
        "scanimage",
        *args,
        cwd=workdir,
        env={**os.environ, "SANE_CONFIG_DIR": str(config)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, stdout.decode() + stderr.decode()


async def scan_platen(
    sim: SimulatedScanner, workdir: Path, image_format: str
) -> Image.Image:
    """Scan the platen at 75 dpi into `image_format`; return the decoded image."""
    name = f"platen.{image_format}"
    code, output = await scanimage(
        sim,
        workdir,
        "-d",
        DEVICE,
        "--resolution",
        "75",
        f"--format={image_format}",
        "-o",
        name,
    )
    assert code == 0, output
    image = Image.open(workdir / name)
    image.load()
    return image


async def scan_feeder(
    sim: SimulatedScanner, workdir: Path, source: str
) -> list[Image.Image]:
    """Scan a feeder batch; return the decoded pages in order."""
    code, output = await scanimage(
        sim,
        workdir,
        "-d",
        DEVICE,
        "--resolution",
        "75",
        "--source",
        source,
        "--format=png",
        "--batch=page%d.png",
    )
    assert code == 0, output
    pages = sorted(
        workdir.glob("page*.png"), key=lambda p: int(p.stem.removeprefix("page"))
    )
    images = [Image.open(page) for page in pages]
    for image in images:
        image.load()
    return images


async def test_scanimage_lists_the_simulator(tmp_path: Path) -> None:
    """`scanimage -L` lists the configured WSD device."""
    async with SimulatedScanner("office_mfp", discovery=False) as sim:
        code, output = await scanimage(sim, tmp_path, "-L")
    assert code == 0, output
    assert f"device `{DEVICE}' is a WSD Sim" in output


@pytest.mark.parametrize("profile", ["office_mfp", "photo_flatbed", "kyocera_m2040dn"])
async def test_platen_png_and_jpeg(profile: str, tmp_path: Path) -> None:
    """Platen scans in PNG and JPEG decode into portrait pages; both jobs complete."""
    async with SimulatedScanner(profile, discovery=False) as sim:
        png = await scan_platen(sim, tmp_path, "png")
        jpeg = await scan_platen(sim, tmp_path, "jpeg")
    assert png.format == "PNG"
    assert jpeg.format == "JPEG"
    # Portrait page; the Kyocera's lowest resolution is 200 dpi, so sizes differ by profile.
    assert png.size == jpeg.size
    assert png.height > png.width > 500
    assert [job.state for job in sim.jobs.values()] == ["Completed", "Completed"]


@pytest.mark.parametrize(
    ("profile", "source", "sheets", "pages"),
    [
        ("office_mfp", "ADF Duplex", 2, 4),
        ("office_mfp", "ADF", 3, 3),
        ("kyocera_m2040dn", "ADF", 2, 2),
    ],
)
async def test_feeder_batch(
    profile: str, source: str, sheets: int, pages: int, tmp_path: Path
) -> None:
    """A feeder batch yields one image per side until the feeder is empty."""
    async with SimulatedScanner(profile, discovery=False) as sim:
        sim.load_feeder(sheets)
        images = await scan_feeder(sim, tmp_path, source)
        assert sim.feeder == 0
    assert len(images) == pages
    assert all(image.format == "PNG" for image in images)


QUIRK_GROUPS = {
    "request checks": {
        Quirk.FAULT_IN_HTTP_200,
        Quirk.STRICT_PREFIXES,
        Quirk.STRICT_WSA_TO,
        Quirk.REQUIRE_JOB_INFORMATION,
        Quirk.CALIBRATING_WARMUP,
        Quirk.HOSTILE_DTD_ENTITIES,
    },
    "mime framing": {
        Quirk.MIME_NO_CRLF_BEFORE_BOUNDARY,
        Quirk.MIME_HEADER_NO_SPACE,
        Quirk.MIME_UNQUOTED_PARAMETERS,
        Quirk.MIME_XOP_2003,
        Quirk.MIME_NO_INCLUDE_CID,
        Quirk.SLOW_STREAMING,
    },
    "capabilities and feeder": {
        Quirk.SWAPPED_MAX_SIZE,
        Quirk.DUPLEX_FLAG_FALSE,
        Quirk.END_OF_FEEDER_JOB_ID_NOT_FOUND,
        Quirk.FORMAT_LIES,
        Quirk.UUID_WITHOUT_URN,
        Quirk.HOSTILE_OVERSIZED_BODY,
    },
}


@pytest.mark.parametrize("group", sorted(QUIRK_GROUPS))
async def test_quirks_sane_airscan_accepts(group: str, tmp_path: Path) -> None:
    """sane-airscan copes with these device deviations: platen and a duplex batch work."""
    async with SimulatedScanner(
        "office_mfp", quirks=QUIRK_GROUPS[group], discovery=False
    ) as sim:
        sim.settings.oversized_bytes = 1024 * 1024
        image = await scan_platen(sim, tmp_path, "png")
        sim.load_feeder(2)
        images = await scan_feeder(sim, tmp_path, "ADF Duplex")
    assert image.format == "PNG"
    assert len(images) == 4


@pytest.mark.parametrize(
    ("quirk", "message"),
    [
        (Quirk.PANEL_START_ONLY, "Device busy"),
        (Quirk.HOSTILE_BILLION_LAUGHS, "Error during device I/O"),
        (Quirk.HOSTILE_TRUNCATED_MIME, "Error during device I/O"),
    ],
)
async def test_quirks_sane_airscan_rejects(
    quirk: Quirk, message: str, tmp_path: Path
) -> None:
    """Deviations that make sane-airscan fail, as they do on the real devices."""
    async with SimulatedScanner("office_mfp", quirks={quirk}, discovery=False) as sim:
        code, output = await scanimage(
            sim,
            tmp_path,
            "-d",
            DEVICE,
            "--resolution",
            "75",
            "--format=png",
            "-o",
            "x.png",
        )
    assert code != 0
    assert message in output
