"""SIRET lookup in the Chorus Pro directory: latency uncached (a call to B2Brouter) and cached.

    .venv/bin/python bench/siret_lookup.py [--lookups 200] [--latency-ms 100] [--json]

`directory.services.directory_lookup` (what the invoice form and the buyer page call) is timed
`--lookups` times over the sandbox directory's SIRETs: uncached (the entry deleted from the
cache first, so each lookup is a miss, a call to the sandbox answering after `--latency-ms`,
and a cache write), then cached (the entry present). The cache is the product's own: Redis when
REDIS_URL is set, else the file cache under `var/bench/siret_lookup/`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import time  # noqa: E402

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--lookups", type=int, default=200, help="timed lookups of each kind")
    p.add_argument("--latency-ms", type=int, default=100, help="sandbox latency per API call")
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def _timed(fn, sirets: list[str], count: int, before=None) -> list[float]:
    times = []
    for index in range(count):
        siret = sirets[index % len(sirets)]
        if before:
            before(siret)
        started = time.perf_counter()
        fn(siret)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(kind: str, times: list[float]) -> dict:
    return {"lookup": kind, "n": len(times), "median ms": common.median(times),
            "p95 ms": common.percentile(times, 0.95), "mean ms": sum(times) / len(times),
            "max ms": max(times)}


def run(args) -> None:
    port = common.free_port()
    common.setup("siret_lookup", sandbox_port=port)
    from django.conf import settings
    from django.core.cache import cache

    from directory.services import _cache_key, directory_lookup

    sandbox = common.start_sandbox(port=port, latency_ms=args.latency_ms)
    sirets = [entry["cin_value"] for entry in common.directory_entries()]

    def lookup(siret: str) -> None:
        directory_lookup(siret=siret)

    def forget(siret: str) -> None:
        cache.delete(_cache_key(siret))

    _timed(lookup, sirets, 5, before=forget)  # connection to the sandbox, imports
    sandbox.control("DELETE", "/_sandbox/stats")
    uncached = _timed(lookup, sirets, args.lookups, before=forget)
    calls_uncached = sandbox.control("GET", "/_sandbox/stats")["total"]
    for siret in sirets:
        lookup(siret)
    sandbox.control("DELETE", "/_sandbox/stats")
    cached = _timed(lookup, sirets, args.lookups)
    calls_cached = sandbox.control("GET", "/_sandbox/stats")["total"]
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    rows = [_row("uncached (cache miss + B2Brouter call)", uncached),
            _row("cached", cached)]
    rows[0]["calls"], rows[1]["calls"] = calls_uncached, calls_cached
    common.report(
        "SIRET lookup (bench/siret_lookup.py)",
        args=args,
        settings={"cache": backend, "sandbox latency": f"{args.latency_ms} ms per API call",
                  "SIRETs": f"{len(sirets)} directory entries, in turn"},
        sections=[("directory_lookup", rows)],
        notes=[f"uncached minus latency: {common.median(uncached) - args.latency_ms:.1f} ms "
               "median of the product's own work (HTTP client, JSON, cache write)"],
        figures={"uncached": rows[0], "cached": rows[1]},
    )


if __name__ == "__main__":
    main()
