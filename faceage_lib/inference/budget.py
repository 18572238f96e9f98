"""A budget of decoded pixels shared by every request in the process, so that photos decoded at once
cannot take more memory than the server has: a request waits for its share, or is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ImageError


class PixelBudget:
    """At most ``capacity`` decoded pixels held at once; :meth:`hold` waits up to ``timeout`` seconds."""

    def __init__(self, capacity: int, timeout: float = 30.0):
        self.capacity, self.timeout = capacity, timeout
        self.held = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` (at most the whole capacity) for the ``with`` block; ``ImageError`` when
        they are not free within the timeout."""
        pixels = min(pixels, self.capacity)
        with self._changed:
            if not self._changed.wait_for(lambda: self.held + pixels <= self.capacity, self.timeout):
                raise ImageError("the server is decoding too many large photos at once; please try again")
            self.held += pixels
        try:
            yield
        finally:
            with self._changed:
                self.held -= pixels
                self._changed.notify_all()
