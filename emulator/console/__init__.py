"""The web console: read-only pages over the same AWS API a user calls, served by the same app.

Plain HTML, CSS and JavaScript in `static/`, no build step and nothing fetched from elsewhere:
the pages call SageMaker operations with `fetch` and the `/_emulator/...` endpoints for metric
series and log tails, and draw their charts as inline SVG.
"""

from emulator.console.routes import add_routes

__all__ = ["add_routes"]
