"""The running sandbox: settings, store, faults, stats and the two background threads."""

import threading

from sandbox import lifecycle, webhooks
from sandbox.faults import Faults, RateLimit, Stats
from sandbox.settings import parse_rate
from sandbox.store import Store


class App:
    """Everything a request handler or background thread needs, created once per process."""

    def __init__(self, settings):
        self.settings = settings
        self.store = Store(settings.data_dir)
        self.faults = Faults(settings)
        self.stats = Stats()
        self.rate_limit = RateLimit(parse_rate(settings.rate_limit))
        self.stopping = threading.Event()
        self.webhook_wake = threading.Event()
        self._threads = []
        if settings.webhook_url is not None:
            # The command line wins over the persisted target; without it the latter is kept.
            with self.store.tx() as db:
                db.set_meta("webhook", {"url": settings.webhook_url or None,
                                        "secret": settings.webhook_secret})

    def start(self):
        """Start the lifecycle and webhook-delivery threads."""
        for name, target in (("lifecycle", lifecycle.run), ("webhooks", webhooks.run)):
            thread = threading.Thread(target=target, args=(self,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self):
        """Stop the threads (each finishes its current step) and close the store."""
        self.stopping.set()
        self.webhook_wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.store.close()
