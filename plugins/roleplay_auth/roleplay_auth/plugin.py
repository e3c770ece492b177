"""Hook implementations of the `auth` plugin (skeleton: filled in by its issue)."""

from starlette.routing import Route

from roleplay_core import JSON, hookimpl


async def status(request):
    return JSON({"plugin": "auth", "status": "skeleton"})


@hookimpl
def register_routes(kernel):
    return [Route("/auth/status", status, methods=["GET"])]
