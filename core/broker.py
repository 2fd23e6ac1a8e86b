"""Celery's Redis transport (kombu's), with one Redis client per channel and connection pool.

kombu's Redis channel builds a new `redis.Redis` for every delivery and every acknowledgement
(`conn_or_acquire`), and redis-py copies its table of ~170 response callbacks in each one's
`__init__` (redis-py issue #3624): measured here, a fifth of a worker's CPU for a task that does
nothing. A `redis.Redis` is safe to share between threads (each command takes a connection from
the pool; pipelines stay one per use), so the channel keeps one for as long as its pool lives.

Selected by `CELERY_BROKER_TRANSPORT` for `redis://` URLs (config/settings.py); `rediss://` (TLS)
keeps kombu's own, whose TLS defaults follow the URL's scheme.
"""

from kombu.transport import redis


class Channel(redis.Channel):
    def _create_client(self, asynchronous=False):
        if asynchronous:  # kombu keeps this one itself (`Channel.client`)
            return super()._create_client(asynchronous=True)
        pool = self.pool
        kept = self.__dict__.get("_kept_client")
        if kept is None or kept[0] is not pool:  # a new pool after a reconnection: a new client
            kept = (pool, super()._create_client())
            self.__dict__["_kept_client"] = kept
        return kept[1]


class Transport(redis.Transport):
    Channel = Channel
