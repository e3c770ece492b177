"""HTTP routes of the chat plugin."""

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
