"""Injected faults and request statistics (control: /_sandbox/faults, /_sandbox/stats).

Kinds: error_5xx (500 before anything is stored), rate_limit (429 + Retry-After, before anything
is stored), slow (wait slow_ms, then answer normally), lost_response (handle and store, then
close the connection without an answer), pdf_missing (a PDF request answers 404 as if the PDF
were not generated yet). Queued faults fire once each, in order, on the first request they
match (after letting `after` matching requests through, when given); otherwise each kind fires
at its rate. Draws use a seeded generator.

`ignore_filters`: the list endpoints ignore every filter, documented ones included, and answer
every contact or invoice of the account: how a client that checks what it adopts is tested
against an API that does not filter as asked.

`opaque_links`: an invoice's `attachments[].link` ends with the attachment's id, not its file
name (the documentation shows a link, not its shape): how a client that counts what B2Brouter
holds, when it cannot read names, is tested.
"""

import collections
import fnmatch
import random
import threading
import time

from sandbox.errors import bad_request
from sandbox.settings import FAULT_KINDS as KINDS
from sandbox.settings import parse_faults


class Faults:
    """Fault configuration and the decision for each API request (thread-safe)."""

    def __init__(self, settings):
        self._lock = threading.Lock()
        self._random = random.Random(settings.seed)
        self.rates = self._check_rates(parse_faults(settings.faults))
        self.queue = []
        self.slow_ms = settings.slow_ms
        self.retry_after = settings.retry_after
        self.ignore_filters = False
        self.opaque_links = False

    @staticmethod
    def _check_rates(rates):
        for kind, rate in rates.items():
            if kind not in KINDS or not 0 <= float(rate) <= 1:
                raise bad_request(f"Unknown fault kind or rate out of [0, 1]: {kind}={rate}")
        return {kind: float(rate) for kind, rate in rates.items()}

    def describe(self):
        with self._lock:
            return {"rates": dict(self.rates), "queue": list(self.queue),
                    "slow_ms": self.slow_ms, "retry_after": self.retry_after,
                    "ignore_filters": self.ignore_filters, "opaque_links": self.opaque_links}

    def update(self, body):
        """Apply a POST body: `rates` replaces the rates, `queue` entries are appended,
        `slow_ms` and `retry_after` replace theirs."""
        queue = body.get("queue") or []
        for entry in queue:
            if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
                raise bad_request(f"Queue entries need a kind among {', '.join(KINDS)}")
        with self._lock:
            if "rates" in body:
                self.rates = self._check_rates(body["rates"] or {})
            self.queue.extend(
                {"kind": e["kind"], "method": (e.get("method") or "*").upper(),
                 "path": e.get("path") or "*", "after": int(e.get("after") or 0)} for e in queue
            )
            self.slow_ms = int(body.get("slow_ms", self.slow_ms))
            self.retry_after = int(body.get("retry_after", self.retry_after))
            self.ignore_filters = bool(body.get("ignore_filters", self.ignore_filters))
            self.opaque_links = bool(body.get("opaque_links", self.opaque_links))

    def clear(self):
        with self._lock:
            self.rates, self.queue, self.ignore_filters, self.opaque_links = {}, [], False, False

    def pick(self, method, path):
        """The fault for this request, or None: the first matching queued one, else a draw.
        (pdf_missing is decided apart, by the PDF route: see `pick_pdf_missing`.)"""
        with self._lock:
            for index, entry in enumerate(self.queue):
                if entry["kind"] == "pdf_missing":
                    continue
                if entry["method"] in ("*", method) and fnmatch.fnmatchcase(path, entry["path"]):
                    if entry["after"] > 0:  # lets that many matching requests through first
                        entry["after"] -= 1
                        continue
                    return self.queue.pop(index)["kind"]
            draw = self._random.random()
            for kind in KINDS:
                if kind == "pdf_missing":
                    continue
                draw -= self.rates.get(kind, 0.0)
                if draw < 0:
                    return kind
        return None

    def pick_pdf_missing(self) -> bool:
        """True when this PDF request is to answer 404 (not ready): a queued pdf_missing, else
        its rate."""
        with self._lock:
            for index, entry in enumerate(self.queue):
                if entry["kind"] == "pdf_missing":
                    self.queue.pop(index)
                    return True
            return self._random.random() < self.rates.get("pdf_missing", 0.0)


class RateLimit:
    """A token bucket per API key: `rate` calls a second, a second's worth of burst. `take()`
    answers 0 when the call may go, else the seconds until it could (for Retry-After)."""

    def __init__(self, rate: float | None):
        self.rate = rate
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        if not self.rate:
            return 0.0
        capacity = max(1.0, self.rate)
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


class Stats:
    """Request counters per route template, e.g. "POST /accounts/{id}/invoices", and the calls
    that arrived in each second (answered or refused): what the clients really sent."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = collections.Counter()
        self._per_second = collections.Counter()
        self.rate_limited = 0

    def count(self, route):
        with self._lock:
            self._counts[route] += 1
            self._per_second[int(time.time())] += 1

    def limited(self):
        with self._lock:
            self.rate_limited += 1

    def describe(self):
        with self._lock:
            return {"requests": dict(self._counts), "total": sum(self._counts.values()),
                    "rate_limited": self.rate_limited,
                    "busiest_second": max(self._per_second.values(), default=0)}

    def reset(self):
        with self._lock:
            self._counts.clear()
            self._per_second.clear()
            self.rate_limited = 0
