"""(being written)"""

from __future__ import annotations

from typing import Any


def build(settings: Any, sio: Any, get_hub: Any) -> Any:
    return None
