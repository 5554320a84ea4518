"""Fixtures of the wsd library tests: captured device messages, an HTTP client session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

CAPTURES = Path(__file__).parents[1] / "captures"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Provide an HTTP client session like the one Home Assistant hands the library."""
    async with aiohttp.ClientSession() as client:
        yield client
