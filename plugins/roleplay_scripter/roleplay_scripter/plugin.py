"""Hook implementations of the `scripter` plugin (skeleton: filled in by its issue)."""

from starlette.routing import Route

from roleplay_core import JSON, hookimpl


async def status(request):
    return JSON({"plugin": "scripter", "status": "skeleton"})


@hookimpl
def register_routes(kernel):
    return [Route("/scripter/status", status, methods=["GET"])]
