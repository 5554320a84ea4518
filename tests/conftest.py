"""Shared fixtures.

Home Assistant's test harness points the media folder into site-packages and blocks every
socket; tests that talk to the simulator request `socket_enabled` (loopback only).
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

pytest_plugins = ["tests.network_guard", "tests.loopback", "tests.ha_fixtures"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom integrations in every test."""


@pytest.fixture(autouse=True)
def media_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """Keep Home Assistant's media folder in the test's own temporary directory."""
    media = tmp_path / "media"
    media.mkdir()
    hass.config.media_dirs = {"local": str(media)}
    hass.config.allowlist_external_dirs = {str(media)}
    return media


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialise snapshots as Home Assistant core does (ids and times left out).

    The harness' plugin defines this fixture too, but syrupy's own plugin, registered
    later, shadows it.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)
