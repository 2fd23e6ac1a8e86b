"""Error reports that never show a secret, with DEBUG on as well as off.

Django cleanses its error pages (settings whose name says KEY, SECRET, TOKEN...; the variables
named by `sensitive_variables`; the POST parameters named by `sensitive_post_parameters`) only
when DEBUG is off. A developer's machine or a misconfigured server runs with it on: the secrets
stay hidden there too. And more than Django hides: the CSRF token (in the request's headers,
its META and its cookies), and the password of any address that carries one
(`postgres://user:password@db/...`, `smtp://...`), whatever the setting or variable holding it
(DATABASE_URL and EMAIL_URL reach the page through the environment the server copies into
every request's META).
"""

import re

from django.utils.regex_helper import _lazy_re_compile
from django.views.debug import SafeExceptionReporterFilter

_PASSWORD_IN_ADDRESS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@")


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = _lazy_re_compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CSRF", flags=re.I)

    def is_active(self, request) -> bool:
        return True

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        if type(cleansed) is str:  # noqa: E721 - not a lazy object that says it is one
            cleansed = _PASSWORD_IN_ADDRESS.sub(rf"\1{self.cleansed_substitute}@", cleansed)
        return cleansed
