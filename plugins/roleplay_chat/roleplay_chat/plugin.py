"""Hook implementations of the `chat` plugin (skeleton: filled in by its issue)."""

from starlette.routing import Route

from roleplay_core import JSON, hookimpl

from . import voice


async def status(request):
    return JSON({"plugin": "chat", "status": "skeleton"})


@hookimpl
def register_routes(kernel):
    return [Route("/chat/status", status, methods=["GET"]), *voice.routes()]
