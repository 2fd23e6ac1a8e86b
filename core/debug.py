"""Error reports that never show a secret, with DEBUG on as well as off.

Django cleanses its error pages (settings whose name says KEY, SECRET, TOKEN...; the variables
named by `sensitive_variables`; the POST parameters named by `sensitive_post_parameters`) only
when DEBUG is off. A developer's machine or a misconfigured server runs with it on: the secrets
stay hidden there too.
"""

from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request) -> bool:
        return True
