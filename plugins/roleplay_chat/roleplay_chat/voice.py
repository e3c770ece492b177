"""The voice WebSocket (issue: roleplay_gemini and voice). Placeholder until that work lands."""

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """Routes of the voice endpoint; ``roleplay_chat.plugin.register_routes`` includes them."""
    return []
