"""What the destinations stored scans are uploaded to share: how a failure is told.

A scan is stored in the media library first, then uploaded from there (post_scan.py,
paperless.py). When an upload fails the files stay in the library, the error says
where, and a repair issue (one per entry and destination) keeps saying so until an
upload works again.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any, ClassVar, Self

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .storage import StoredScan

_LOGGER = logging.getLogger(__name__)


class UploadTarget:
    """A destination of one scanner's entry that stored scans are uploaded to."""

    #: The key of the destination's configuration in the entry's options.
    options_key: ClassVar[str]
    #: The translation key of the repair issue and the error of a failed upload.
    failure_key: ClassVar[str]
    #: The key of the destination's address in its configuration, and of the
    #: placeholder naming it in those translations.
    target_key: ClassVar[str]

    def __init__(
        self, hass: HomeAssistant, entry_id: str, name: str, config: Mapping[str, Any]
    ) -> None:
        """Upload to the destination `config` describes; `name` is the scanner's."""
        self.hass = hass
        self.entry_id = entry_id
        self.name = name
        self.config = dict(config)
        self.target: str = config[self.target_key]

    @classmethod
    def from_options(
        cls, hass: HomeAssistant, entry_id: str, name: str, options: Mapping[str, Any]
    ) -> Self | None:
        """Return the entry's destination of this kind, if one is configured."""
        config = options.get(cls.options_key)
        return cls(hass, entry_id, name, config) if config else None

    @property
    def issue_id(self) -> str:
        """The id of this entry's repair issue about failed uploads."""
        return f"{self.failure_key}_{self.entry_id}"

    def _uploaded(self, scan: StoredScan, result: object) -> None:
        """Note an upload that worked: the repair issue, if any, is resolved."""
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        _LOGGER.debug(
            "%s handed %s to %s: %s", self.name, scan.name, self.target, result
        )

    def _failed(
        self,
        scan: StoredScan,
        err: Exception,
        translation_key: str | None = None,
        **placeholders: str,
    ) -> HomeAssistantError:
        """Raise the repair issue of a failed upload; return the error to raise.

        `translation_key` (the issue's and the error's) is `failure_key` by default.
        """
        key = translation_key or self.failure_key
        placeholders = {
            "name": self.name,
            self.target_key: self.target,
            "error": str(err),
            "files": ", ".join(str(file.path) for file in scan.files),
            **placeholders,
        }
        _LOGGER.warning(
            "%s could not hand %s to %s (%s); the files stay in the media library",
            self.name,
            scan.name,
            self.target,
            err,
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=key,
            translation_placeholders=placeholders,
            data={"entry_id": self.entry_id},
        )
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders=placeholders,
        )
