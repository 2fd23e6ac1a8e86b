"""Settings for the test suite: the production settings with test-only conveniences.

DATABASE_URL / REDIS_URL still come from the environment, so CI runs on PostgreSQL and Redis.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-key-for-tests-only")
os.environ.setdefault("B2BROUTER_API_KEY", "test-api-key-0123456789")
os.environ.setdefault("B2BROUTER_WEBHOOK_SECRET", "test-webhook-secret-0123456789")
# The deployment-wide rate limit is tested on its own (tests/core/test_ratelimit.py, with
# several processes against a rate-limited sandbox); elsewhere it would only slow the suite.
os.environ.setdefault("B2BROUTER_RATE_LIMIT", "0")
# A queue of its own per test run: worker processes started by the tests inherit it, and no
# message left by an earlier run reaches them.
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"tests-{os.getpid()}")
if not os.environ.get("REDIS_URL") and not os.environ.get("CELERY_BROKER_URL"):
    os.environ["CELERY_BROKER_URL"] = "sqla+sqlite:///" + os.path.join(
        os.environ.get("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var")),
        f"test-celery-broker-{os.getpid()}.sqlite",
    )

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES, VAR_DIR  # noqa: E402

ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_ROOT = VAR_DIR / "test-staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"], "KEY_PREFIX": "test"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: worker processes started by the tests must see the same database.
    # One file per test run, so that runs side by side never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
# Request threads of the live server must not keep their connections open after the request:
# a lingering session would stop the test database from being dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0
