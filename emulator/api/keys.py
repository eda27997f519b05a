"""Keys the HTTP edge's modules share on the app and on a request, kept apart from the modules
that fill them so that none has to import another to reach them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

BODY_KEY = web.RequestKey("amt_auth_body", bytes)
"""The request body, when the signature check had to read it before the handler."""
HEALTH_PROVIDERS = web.AppKey("health_providers", list[Callable[[], dict[str, Any]]])
"""Long-lived parts add what they report on `/health`."""
RESET_HOOKS = web.AppKey("reset_hooks", list[Callable[[], None]])
"""Called after the stored state is gone: long-lived parts drop what they cached about jobs."""
