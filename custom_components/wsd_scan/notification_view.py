"""The HTTP endpoint that receives the scanners' WS-Eventing notifications.

Registered once for the domain (views cannot be unregistered) and routed by the
unguessable subscription identifier in the path. The library's `NotificationHandler`
accepts only live subscriptions, from the subscribed scanner's own address, with a
bounded body, and answers 202 with an empty body; anything else gets its 4xx. The scanner
cannot authenticate, hence no auth.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import HomeAssistantView
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, NOTIFY_PATH
from .wsd import NotificationHandler

NOTIFICATION_HANDLER: Final = HassKey[NotificationHandler](f"{DOMAIN}_notifications")


class WsdNotifyView(HomeAssistantView):
    """Receives notifications for every subscription of every scanner."""

    url = f"{NOTIFY_PATH}/{{identifier}}"
    name = f"api:{DOMAIN}:notify"
    requires_auth = False

    def __init__(self, handler: NotificationHandler) -> None:
        """Hand requests to `handler`."""
        self.handler = handler

    async def post(self, request: web.Request, identifier: str) -> web.Response:
        """Check and dispatch one notification (the handler reads `identifier`)."""
        return await self.handler.aiohttp_handler(request)


def async_setup_notify_view(hass: HomeAssistant) -> NotificationHandler:
    """Register the view and return the handler subscriptions register with."""
    handler = NotificationHandler()
    hass.data[NOTIFICATION_HANDLER] = handler
    hass.http.register_view(WsdNotifyView(handler))
    return handler
