"""Hook implementations of the `evaluator` plugin (skeleton: filled in by its issue)."""

from starlette.routing import Route

from roleplay_core import JSON, hookimpl


async def status(request):
    return JSON({"plugin": "evaluator", "status": "skeleton"})


@hookimpl
def register_routes(kernel):
    return [Route("/evaluator/status", status, methods=["GET"])]
