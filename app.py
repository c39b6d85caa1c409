"""The Chalice app: middleware, every feature's blueprint, scheduled jobs and the work
queue's consumer. Nothing else."""
from chalice import Chalice, ConvertToMiddleware, Rate

from chalicelib import features
from chalicelib.store import queues
from chalicelib.core.observability import logger, tracer_middleware

app = Chalice(app_name="adminplane")
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))
if (_trace := tracer_middleware()) is not None:
    app.register_middleware(ConvertToMiddleware(_trace))

for blueprint in features.BLUEPRINTS:
    app.register_blueprint(blueprint)


def _scheduled(job):
    def handler(event):
        result = job.run()
        logger.info("scheduled job done", extra={"job": job.name, "result": result})
        return result
    handler.__name__ = job.handler_name
    return handler


for job in features.JOBS.values():
    app.schedule(Rate(job.minutes, unit=Rate.MINUTES), name=job.handler_name)(_scheduled(job))


@app.on_sqs_message(queue=queues.queue_name("work"), batch_size=1, name="work_queue")
def work_queue(event):
    """Each message is one task (chalicelib.features.TASKS). An exception returns the
    message to the queue for another try; after queues.MAX_RECEIVES it goes to the
    dead-letter queue."""
    for record in event:
        outcome = features.handle_message(record.body)
        logger.info("work done", extra={"outcome": outcome,
                                        "message_id": record.to_dict().get("messageId")})


@app.on_sqs_message(queue=queues.queue_name("timers"), batch_size=1, name="timers_queue")
def timers_queue(event):
    """Short work due at a moment (deliveries, scheduled events, saga steps), each
    message one task, handled as work_queue handles its own."""
    for record in event:
        outcome = features.handle_message(record.body)
        logger.info("timer done", extra={"outcome": outcome,
                                         "message_id": record.to_dict().get("messageId")})


def __getattr__(name: str):
    """Lambda resolves a scheduled function's handler, "app.job_<name>", here: from the
    handler Chalice registered, middleware included."""
    if name.startswith("job_") and name in app.handler_map:
        return app.handler_map[name]
    raise AttributeError(name)
