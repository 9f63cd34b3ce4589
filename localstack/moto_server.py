"""moto's server (as `moto_server` runs it), with requests applied one at a time.

moto's in-memory DynamoDB has no locking: two concurrent conditional UpdateItems on one item can
both pass their condition (seen in coffer's two-process check-and-set test, 3 in 236). Real
DynamoDB applies conditional writes atomically per item, so the emulator must too: a global lock
around the WSGI application serialises every request, while connections stay concurrent.

Usage: .venv/bin/python localstack/moto_server.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialised(environ, start_response):
        with lock:
            # Drain the body inside the lock: the request is applied when this returns.
            return list(app(environ, start_response))

    run_simple(
        args.host,
        args.port,
        serialised,
        threaded=True,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
