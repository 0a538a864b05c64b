"""Kiroku's HTTP API (FastAPI on uvicorn): ``create_app(kiroku)``.

Importing this package imports nothing heavy; ``create_app`` lives in ``viewers.http.app``.
"""

from __future__ import annotations

from typing import Any


def create_app(kiroku: Any, *args: Any, **kwargs: Any) -> Any:
    """The FastAPI application over ``kiroku`` (see ``viewers.http.app.create_app``)."""
    from viewers.http.app import create_app as _create

    return _create(kiroku, *args, **kwargs)


__all__ = ["create_app"]
