"""The API's error answers: `{"error": {"code", "message", "type", "param"?, "details"?}}`."""


class ApiError(Exception):
    """An error answer. `details` lists every field error of a 422 (the first names `param`)."""

    def __init__(self, status, code, message, param=None, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.details = details
        self.headers = headers or {}

    def body(self, documented_only=False):
        """The answer's body; `documented_only`: the documented keys alone (code, message,
        type), without the sandbox's `param` and `details`."""
        error = {
            "code": self.code,
            "message": self.message,
            "type": "api_error" if self.status >= 500 else "invalid_request_error",
        }
        if documented_only:
            return {"error": error}
        if self.param is not None:
            error["param"] = self.param
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class FieldErrors:
    """Collects field errors so that one 422 reports all of them."""

    def __init__(self):
        self.items = []

    def add(self, param, code, message):
        self.items.append({"param": param, "code": code, "message": message})

    def blank(self, param, label):
        self.add(param, "parameter_blank", f"{label} can't be blank")

    def raise_if_any(self):
        """Raise the 422 for the collected errors; status code and message are the first's."""
        if self.items:
            first = self.items[0]
            raise ApiError(422, first["code"], first["message"], first["param"], self.items)


def not_found(kind, ident):
    return ApiError(404, "resource_missing", f"No such {kind}: '{ident}'")


def conflict(message):
    return ApiError(409, "conflict", message)


def bad_request(message):
    return ApiError(400, "invalid_request_params", message)
