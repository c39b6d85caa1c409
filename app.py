"""The Chalice app: middleware, blueprints and scheduled functions. Nothing else."""
from chalice import Chalice, ConvertToMiddleware, Rate

from chalicelib import jobs
from chalicelib.api import (auth, backups, blobs, data, data_loading, events, health, instances,
                            integrity, internal, keys, meta, metrics, moderation, server_admin,
                            specs)
from chalicelib.observability import logger, tracer_middleware

app = Chalice(app_name="adminplane")
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
if (_trace := tracer_middleware()) is not None:
    app.register_middleware(ConvertToMiddleware(_trace))

for blueprint in (auth, instances, keys, internal, data, meta, server_admin, moderation, metrics,
                  health, specs, events, integrity, blobs, data_loading, backups):
    app.register_blueprint(blueprint.bp)


def _schedule(name: str, minutes: int):
    def handler(event):
        result = jobs.run(name)
        logger.info("scheduled job done", extra={"job": name, "result": result})
        return result
    handler.__name__ = f"job_{name}"
    return app.schedule(Rate(minutes, unit=Rate.MINUTES), name=f"job_{name}")(handler)


# Lambda finds each scheduled handler as a module attribute named after it.
for _name, (_minutes, _) in jobs.SCHEDULES.items():
    globals()[f"job_{_name}"] = _schedule(_name, _minutes)
del _name, _minutes
