"""A one-slot mailbox: the producer overwrites, the consumer always gets the newest item.

The executor thread ``put``s every incoming frame; the inference worker ``take``s the
latest. A frame overwritten before the worker reached it is stale: ``put`` reports it so
the node counts it as dropped. Latency therefore stays bounded by one inference time
plus one frame period, whatever the input rate.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False

    def put(self, item: T) -> bool:
        """Store ``item``; returns True if an unprocessed item was overwritten (dropped)."""
        with self._cond:
            dropped = self._item is not None
            self._item = item
            self._cond.notify()
            return dropped

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item (removing it), waiting up to ``timeout`` s; None on timeout or close."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def clear(self) -> bool:
        """Discard a pending item; returns True if there was one."""
        with self._cond:
            had = self._item is not None
            self._item = None
            return had

    def close(self) -> None:
        """Wake the consumer for good (``take`` returns None from now on once empty)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
