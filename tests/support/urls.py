"""Every URL of the project, from the resolver: for the tests that walk them all (access, CSRF)."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

_ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the route itself for an unnamed pattern
    route: str  # the pattern, e.g. "invoices/<int:pk>/"

    @property
    def params(self) -> list[str]:
        regex_params = _REGEX_PARAM.findall(self.route)
        return regex_params + _ROUTE_PARAM.findall(_REGEX_PARAM.sub("", self.route))

    def fill(self, values: dict[str, object]) -> str:
        """The path with each parameter replaced by `values[name]`."""
        path = _REGEX_PARAM.sub(lambda m: str(values[m.group(1)]), self.route)
        path = _ROUTE_PARAM.sub(lambda m: str(values[m.group(1)]), path)
        return "/" + path.replace("^", "").replace("$", "")


def all_routes() -> list[Route]:
    routes = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace
                if pattern.namespace:
                    inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                if pattern.name:
                    key = f"{namespace}:{pattern.name}" if namespace else pattern.name
                else:
                    key = route
                routes.append(Route(key=key, route=route))

    walk(get_resolver().url_patterns, "", "")
    return routes
