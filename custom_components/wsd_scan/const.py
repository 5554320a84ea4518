"""Constants of the WSD Scan integration."""

from typing import Final

DOMAIN: Final = "wsd_scan"
