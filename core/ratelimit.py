"""One rate limit for every call to B2Brouter from the whole deployment, per account (API key).

B2Brouter limits an account as a whole: every worker thread, in every process, on every
machine, takes its turn from one limit. The limit is a GCRA (the generic cell rate algorithm: a
token bucket kept as one "theoretical arrival time") so that calls are spaced evenly, with a
small burst allowed.

- With Redis (production): the state is one key, updated by a Lua script that runs atomically
  and reads Redis's clock, so workers on several hosts share it whatever their own clocks.
- Without (the embedded default): a small file under VAR_DIR, updated under an exclusive
  `flock`, shared by the processes of the one machine.

A 429 from B2Brouter (with its Retry-After) pauses every caller of that account until then, not
only the one that got it: `pause()` sets the pause, `acquire()` waits for it.
"""

import fcntl
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

# Times are milliseconds with a fraction (Redis's clock to the microsecond). A wait goes back as
# a string: a Lua number returned to Redis is cut to an integer, and a wait under 1 ms read as 0
# would be a permission that took no slot. "0" is returned only once the slot is taken.
GCRA = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + tonumber(now_t[2]) / 1000
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return string.format('%.3f', paused - now) end
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - burst - now
if wait > 0 then return string.format('%.3f', math.max(wait, 0.001)) end
redis.call('SET', KEYS[1], string.format('%.3f', tat + interval), 'PX',
           math.ceil(tat + interval - now + 1000))
return '0'
"""

PAUSE = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + tonumber(now_t[2]) / 1000
local until_ms = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > paused then
  redis.call('SET', KEYS[1], string.format('%.3f', until_ms), 'PX', tonumber(ARGV[1]) + 1000)
end
return string.format('%.3f', until_ms - now)
"""


@dataclass
class Stats:
    """What this process's limiter did (for the benchmarks)."""

    acquired: int = 0
    waited_seconds: float = 0.0
    pauses: int = 0


class RateLimiter:
    """`rate` calls per second for `name` (an account), a burst of `burst` calls."""

    def __init__(self, name: str, rate: float, *, burst: int = 1, sleep=time.sleep):
        self.name = hashlib.sha256(name.encode()).hexdigest()[:16]  # never the key itself
        self.interval_ms = 1000.0 / rate
        self.burst_ms = max(0, burst - 1) * self.interval_ms
        self.stats = Stats()
        self._sleep = sleep

    def acquire(self, max_wait: float | None = None) -> bool:
        """Waits for this call's turn (and for any pause after a 429); True once it has it.
        With `max_wait` (seconds), gives up, without taking a turn, when the turn is further
        off than that: False (a person waiting at a page is told to try again instead)."""
        deadline = None if max_wait is None else time.monotonic() + max_wait
        while True:
            wait_ms = self._try()
            if wait_ms <= 0:
                self.stats.acquired += 1
                return True
            if deadline is not None and time.monotonic() + wait_ms / 1000 > deadline:
                return False
            self.stats.waited_seconds += wait_ms / 1000
            self._sleep(wait_ms / 1000)

    def pause(self, seconds: float) -> None:
        """B2Brouter said to wait: every caller of this account waits that long."""
        self.stats.pauses += 1
        self._pause(max(0.0, seconds))

    def _try(self) -> float:
        raise NotImplementedError

    def _pause(self, seconds: float) -> None:
        raise NotImplementedError


class RedisRateLimiter(RateLimiter):
    def __init__(self, name: str, rate: float, *, client, burst: int = 1, sleep=time.sleep):
        super().__init__(name, rate, burst=burst, sleep=sleep)
        self._keys = [f"b2brouter:rate:{self.name}:tat", f"b2brouter:rate:{self.name}:pause"]
        self._gcra = client.register_script(GCRA)
        self._pause_script = client.register_script(PAUSE)

    def _try(self) -> float:
        return float(self._gcra(keys=self._keys, args=[self.interval_ms, self.burst_ms]))

    def _pause(self, seconds: float) -> None:
        self._pause_script(keys=[self._keys[1]], args=[int(seconds * 1000)])


class FileRateLimiter(RateLimiter):
    """The same algorithm on one machine: the state in a file, under an exclusive lock."""

    def __init__(self, name: str, rate: float, *, directory: Path, burst: int = 1,
                 sleep=time.sleep):
        super().__init__(name, rate, burst=burst, sleep=sleep)
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / f"b2brouter-rate-{self.name}"
        self._path.touch(exist_ok=True)

    def _locked(self, update):
        with open(self._path, "r+") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                parts = (file.read().split() + ["0", "0"])[:2]
                tat, paused = float(parts[0]), float(parts[1])
                result, tat, paused = update(time.time() * 1000, tat, paused)
                file.seek(0)
                file.truncate()
                file.write(f"{tat} {paused}")
                file.flush()  # written before the lock is let go, not when the file closes
                return result
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)

    def _try(self) -> float:
        def update(now, tat, paused):
            if paused > now:
                return paused - now, tat, paused
            tat = max(tat, now)
            wait = tat - self.burst_ms - now
            if wait > 0:
                return wait, tat, paused
            return 0.0, tat + self.interval_ms, paused
        return self._locked(update)

    def _pause(self, seconds: float) -> None:
        def update(now, tat, paused):
            return None, tat, max(paused, now + seconds * 1000)
        self._locked(update)
