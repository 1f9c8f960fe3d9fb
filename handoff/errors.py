"""The hub's domain errors: a stable machine code and the facts behind it, nothing else.

The store and the use cases raise them; the HTTP and socket adapters turn the `kind` into a
status code and the code into Vietnamese copy (`core/copy_vi.py`), so neither wording nor
HTTP leaks into the layers below.
"""

from __future__ import annotations

import math
from typing import Any


class HubError(Exception):
    kind = "invalid"

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def __str__(self) -> str:
        if not self.params:
            return self.code
        facts = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.code} ({facts})"


class NotFound(HubError):
    kind = "not_found"


class Conflict(HubError):
    kind = "conflict"


class Forbidden(HubError):
    kind = "forbidden"


class Unauthorized(HubError):
    kind = "unauthorized"


class RateLimited(HubError):
    """Too many requests: `retry_after` seconds until the limit's window ends."""

    kind = "rate_limited"

    def __init__(self, code: str = "rate_limited", *, retry_after: float, **params: Any) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(code, retry_after=seconds, **params)
        self.retry_after = seconds
