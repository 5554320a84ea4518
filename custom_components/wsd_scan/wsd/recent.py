"""A bounded memory of recently seen ids, to drop repeated messages."""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    """The last `size` ids seen; the oldest is forgotten first.

    Retransmitted WS-Discovery datagrams share their MessageID (SOAP-over-UDP, Appendix
    II), scanners repeat event notifications, and a panel press may be announced twice.
    """

    def __init__(self, size: int) -> None:
        """Remember up to `size` ids."""
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def seen(self, item: str | None) -> bool:
        """Remember `item`; return whether it was already known (None never is)."""
        if item is None:
            return False
        if item in self._ids:
            return True
        self._ids[item] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return False
