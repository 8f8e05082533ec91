"""Python's cyclic garbage collector, paused while plain data is built in bulk.

Reading a long run's state or copying a long loop's results allocates tens of
thousands of containers; every 700 new ones set off a young collection that walks
all the young objects, none of which form cycles. Reference counting frees as usual
while the collector is paused, and the count of new objects stands, so a collection
that is due still runs after.
"""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[bool]:
    """Pause the cyclic collector for the block and restore it as it was after.

    :returns: (as the ``with`` target) whether it was running, i.e. whether the
        block paused it.
    """
    running = gc.isenabled()
    gc.disable()
    try:
        yield running
    finally:
        if running:
            gc.enable()
