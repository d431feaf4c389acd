"""How the service runs under uvicorn: one place for the server's options.

``targeting serve`` and ``python -m serving.server`` (the app built from ``TARGETING_*``
variables, as ``serving.app.app_from_env``) both run uvicorn with ``server_options``.
uvicorn's access log stays off: its lines carry paths (ids) and client addresses.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from serving.settings import ServingSettings


def server_options(settings: ServingSettings) -> dict[str, Any]:
    """uvicorn's keyword arguments for ``settings``."""
    return {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_level": settings.log_level.lower(),
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }


def run(app: FastAPI, settings: ServingSettings) -> None:
    """Serve ``app`` until SIGINT or SIGTERM."""
    uvicorn.run(app, **server_options(settings))


def main() -> None:
    """Serve the app configured from the environment."""
    from serving.app import create_app

    settings = ServingSettings()
    run(create_app(settings), settings)


if __name__ == "__main__":
    main()
