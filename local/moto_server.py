"""moto's server, serving one request at a time.

moto checks a write's condition and applies it without a lock, so two requests served
in parallel threads can both pass `attribute_not_exists(...)` and one write is lost;
DynamoDB itself never does that. Serving requests one at a time gives the local stack
DynamoDB's atomicity for conditional writes and transactions."""
from __future__ import annotations

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


class SerialMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, threaded=False,
                                   request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
