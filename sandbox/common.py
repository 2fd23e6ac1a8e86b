"""Small helpers shared by the resource handlers: request bodies, paging, field checks."""

from sandbox.errors import ApiError, bad_request

MAX_LIMIT = 500
DEFAULT_LIMIT = 25


def root_object(body, key):
    """The object under `key` in a request body ({"invoice": {...}}), or 400."""
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise bad_request(f"The request body must be a JSON object with a '{key}' object")
    return body[key]


def page(query):
    """(offset, limit) from the query: offset >= 0 (default 0), 1 <= limit <= 500 (default 25)."""
    try:
        offset = int(query.get("offset") or 0)
        limit = int(query.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise bad_request("offset and limit must be integers") from None
    if offset < 0 or limit < 0:
        raise bad_request("offset and limit must not be negative")
    return offset, min(limit, MAX_LIMIT)


def listing(plural, items, total, offset, limit):
    return {plural: items, "meta": {"total_count": total, "offset": offset, "limit": limit}}


def blank(value):
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def scheme(value):
    """A scheme code as the 4-character string the store keeps ("9957", 9 -> "0009").

    Raises ValueError for anything but 1 to 4 digits.
    """
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or len(text) > 4:
        raise ValueError(text)
    return text.zfill(4)


def to_int(value, what):
    """An id given as a path or body value, or 404 when it is not an integer."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(404, "resource_missing", f"No such {what}: '{value}'") from None


def truthy(value):
    """Query-string booleans: 1/true/yes -> True, 0/false/no -> False, else None."""
    text = str(value).lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    return None
