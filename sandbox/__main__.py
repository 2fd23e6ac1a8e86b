"""`python -m sandbox --api-key KEY [...]`: run the B2Brouter sandbox until SIGINT/SIGTERM."""

import logging
import signal
import sys
import threading

from sandbox.app import App
from sandbox.server import Server
from sandbox.settings import from_args


def main(argv=None):
    settings = from_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    app = App(settings)
    server = Server(app)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    app.start()
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    logging.getLogger("sandbox").info("listening on http://%s:%s (data in %s)",
                                      host, port, settings.data_dir)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
