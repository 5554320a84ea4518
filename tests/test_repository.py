"""The repository as HACS and GitHub see it: hacs.json, brand images, README, workflows.

The workflows cannot run here; these tests keep them from rotting: valid YAML, the
triggers and actions the README and HACS rely on, and the release's version check run
for real.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from PIL import Image
import pytest
import yaml

from custom_components.wsd_scan.const import DOMAIN

REPOSITORY = Path(__file__).parent.parent
INTEGRATION = REPOSITORY / "custom_components" / DOMAIN
WORKFLOWS = REPOSITORY / ".github" / "workflows"
MANIFEST: dict[str, Any] = json.loads((INTEGRATION / "manifest.json").read_text())
HACS: dict[str, Any] = json.loads((REPOSITORY / "hacs.json").read_text())
README = (REPOSITORY / "README.md").read_text(encoding="utf-8")

#: The keys HACS accepts in hacs.json (it rejects any other).
HACS_KEYS = {
    "name",
    "content_in_root",
    "country",
    "filename",
    "hacs",
    "hide_default_branch",
    "homeassistant",
    "persistent_directory",
    "render_readme",
    "zip_release",
}
#: The manifest keys HACS requires of an integration.
HACS_MANIFEST_KEYS = {
    "domain",
    "name",
    "documentation",
    "issue_tracker",
    "codeowners",
    "version",
}
#: Brand images Home Assistant (2026.3+) and HACS take from the integration's `brand/`
#: folder, with their sizes; only the icon is required.
BRAND_SIZES = {"icon.png": (256, 256), "icon@2x.png": (512, 512)}


def workflow(name: str) -> dict[str, Any]:
    """Load a workflow; YAML 1.1 reads the `on` key as True."""
    data = yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())
    data["on"] = data.pop(True)
    return data


def steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the steps of every job."""
    return [step for job in data["jobs"].values() for step in job["steps"]]


def uses(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the actions a workflow uses (without version) and their inputs."""
    return {
        step["uses"].split("@")[0]: step.get("with", {})
        for step in steps(data)
        if "uses" in step
    }


def test_hacs_json() -> None:
    """Known keys; the tested Home Assistant release; the zip the release attaches."""
    from homeassistant.const import __version__  # noqa: PLC0415

    assert set(HACS) <= HACS_KEYS
    assert HACS["name"] == MANIFEST["name"]
    assert HACS["homeassistant"] == __version__
    assert HACS["zip_release"] is True
    assert HACS["filename"] == f"{DOMAIN}.zip"


def test_manifest_has_what_hacs_requires() -> None:
    """domain, name, documentation, issue tracker, code owners and a version."""
    assert all(MANIFEST.get(key) for key in HACS_MANIFEST_KEYS)
    assert AwesomeVersion(MANIFEST["version"]).strategy == AwesomeVersionStrategy.SEMVER


@pytest.mark.parametrize("name", sorted(BRAND_SIZES))
def test_brand_images(name: str) -> None:
    """The icon Home Assistant and HACS show, as PNG at the size they expect."""
    with Image.open(INTEGRATION / "brand" / name) as image:
        assert image.format == "PNG"
        assert image.size == BRAND_SIZES[name]


def test_readme_informs_a_hacs_user() -> None:
    """HACS shows the README: it tells how to install, set up and remove."""
    for heading in ("## Installation (HACS)", "### Removal", "## Set-up", "## Actions"):
        assert heading in README
    assert f"Requires Home Assistant {HACS['homeassistant']} or newer" in README


def test_validate_workflow() -> None:
    """Run hassfest and the HACS action on every push, pull request and every day."""
    data = workflow("validate")
    assert set(data["on"]) >= {"push", "pull_request", "schedule"}
    assert data["on"]["schedule"][0]["cron"]
    actions = uses(data)
    assert "home-assistant/actions/hassfest" in actions
    assert actions["hacs/action"] == {"category": "integration"}


def test_tests_workflow_runs_the_readme_test_command() -> None:
    """The README's test command, on Python 3.14, for pushes and pull requests."""
    data = workflow("tests")
    assert set(data["on"]) >= {"push", "pull_request"}
    assert uses(data)["actions/setup-python"] == {"python-version": "3.14"}
    assert "\nscripts/test      # every check:" in README
    assert [step["run"] for step in steps(data) if "run" in step] == ["scripts/test"]


def test_release_workflow_attaches_the_zip_hacs_installs() -> None:
    """On a version tag: the zip named in hacs.json, built from the integration."""
    data = workflow("release")
    assert data["on"] == {"push": {"tags": ["v*"]}}
    assert data["permissions"] == {"contents": "write"}
    runs = " ".join(step.get("run", "") for step in steps(data))
    assert f"--output={HACS['filename']}" in runs
    assert f"HEAD:custom_components/{DOMAIN}" in runs
    assert uses(data)["softprops/action-gh-release"]["files"] == HACS["filename"]


@pytest.mark.parametrize(
    ("tag", "released"),
    [(f"v{MANIFEST['version']}", True), ("v0.0.0-other", False), ("latest", False)],
)
def test_release_only_for_the_manifest_version(tag: str, released: bool) -> None:
    """The release's version check, run as the workflow runs it."""
    (check,) = (
        step["run"]
        for step in steps(workflow("release"))
        if "manifest" in step.get("name", "")
    )
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", check],
        cwd=REPOSITORY,
        env={**os.environ, "GITHUB_REF_NAME": tag},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode == 0) is released, result.stdout + result.stderr
    if not released:
        assert f"is not v{MANIFEST['version']}" in result.stdout
