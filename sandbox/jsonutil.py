"""JSON and time helpers shared by the sandbox: Decimal in, Decimal out, never float."""

import datetime as dt

import simplejson


def loads(text):
    """Parse JSON, reading every non-integer number as Decimal."""
    return simplejson.loads(text, use_decimal=True)


def dumps(obj):
    """Serialise to compact JSON; Decimals are written exactly as they are."""
    return simplejson.dumps(obj, use_decimal=True, ensure_ascii=False, separators=(",", ":"))


def now_iso(ts=None):
    """UTC timestamp in ISO 8601 with milliseconds and a Z, e.g. 2026-11-25T10:00:00.123Z.

    The fixed width makes these strings sort in time order, which the store relies on.
    """
    moment = dt.datetime.fromtimestamp(ts, dt.UTC) if ts is not None else dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_instant(value):
    """A date (YYYY-MM-DD, start of day UTC) or an ISO timestamp, as the canonical ISO string.

    Raises ValueError when the value is neither.
    """
    value = value.strip()
    if len(value) == 10:
        day = dt.date.fromisoformat(value)
        return f"{day.isoformat()}T00:00:00.000Z"
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return now_iso(moment.timestamp())

