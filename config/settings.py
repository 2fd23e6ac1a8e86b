"""Settings, all from the environment (django-environ); see .env.example for each variable.

Safe by default: DEBUG is off unless asked, and then SECRET_KEY and ALLOWED_HOSTS must be given.
Every external service has an embedded default (SQLite, a SQLite-backed Celery broker, a file
cache, the local B2Brouter sandbox) so that the product runs on a bare machine.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Error pages and reports hide secrets with DEBUG on as well (core/debug.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.debug.AlwaysSafeExceptionReporterFilter"

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only"  # noqa: S105 - only ever with DEBUG on

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = ["django_htmx", "template_partials", "axes"]
LOCAL_APPS = ["core", "directory", "invoicing", "finance"]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.PrivatePagesMiddleware",
    "core.middleware.SiteNotFoundMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.throttle.SignInAddressThrottleMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling: after 5 failures for one username from one address, 15 minutes' wait.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# And per address, whatever the username (core/throttle.py): failures allowed in the window.
# The site's address, for the links in e-mails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# The bearer token that shows /health/'s details (each check, B2Brouter's reachability).
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
SIGNIN_ADDRESS_FAILURE_LIMIT = env.int("SIGNIN_ADDRESS_FAILURE_LIMIT", default=20)
SIGNIN_ADDRESS_WINDOW = env.int("SIGNIN_ADDRESS_WINDOW", default=900)
# The reverse proxies believed about the client's address (X-Forwarded-For): their addresses or
# networks; "direct" where clients reach this server without one. Unset, the address seen may be
# a proxy's, shared by everybody: sign-in lock-outs then key on username and address together.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
AXES_CLIENT_IP_CALLABLE = "core.throttle.client_address"
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_USERNAME_CALLABLE = "core.roles.throttled_username"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "core.context_processors.menu",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for a lock rather than fail at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]  # English dates unambiguous: 3 Dec 2026
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# Production hardening; on unless DEBUG. DJANGO_SECURE_SSL_REDIRECT=0 where TLS ends before us.
SECURE = env.bool("DJANGO_SECURE", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=SECURE)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles and images from this site only, no inline
# script or style, no plugin, no framing, forms posted here only. The few behaviours a page has
# are bound in static/js/app.js.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="factures@localhost")
# The ECB's main refinancing rate (%) in force on the first day of the half-year: the base of the
# legal late-payment interest (+10 points between companies, +8 for public buyers).
ECB_MAIN_RATE = env.str("ECB_MAIN_RATE", default="2.15")

# --- B2Brouter ------------------------------------------------------------------------------
B2BROUTER_API_URL = env.str("B2BROUTER_API_URL", default="http://127.0.0.1:8765")
B2BROUTER_API_KEY = env.str("B2BROUTER_API_KEY", default="sandbox-key" if DEBUG else "")
B2BROUTER_API_VERSION = env.str("B2BROUTER_API_VERSION", default="2026-03-02")
B2BROUTER_ACCOUNT_ID = env.int("B2BROUTER_ACCOUNT_ID", default=None)
B2BROUTER_WEBHOOK_SECRET = env.str(
    "B2BROUTER_WEBHOOK_SECRET", default="sandbox-webhook-secret" if DEBUG else ""
)
B2BROUTER_TIMEOUT = env.float("B2BROUTER_TIMEOUT", default=30.0)
# One rate limit for every call to B2Brouter from the whole deployment (core/ratelimit.py):
# calls per second per account, and the burst allowed. B2Brouter publishes no figure (an
# integrator reports 1 000 a minute in production): 15/s stays under it. 0: no limit.
B2BROUTER_RATE_LIMIT = env.float("B2BROUTER_RATE_LIMIT", default=15.0)
B2BROUTER_RATE_BURST = env.int("B2BROUTER_RATE_BURST", default=5)
# The most of that limit directory lookups (staff typing SIRETs) may take: sending keeps the rest.
B2BROUTER_LOOKUP_SHARE = env.float("B2BROUTER_LOOKUP_SHARE", default=0.2)
# How long an upload whose answer was lost may still land at B2Brouter before it is repeated
# (0: derived from the timeout, max(2 x timeout, timeout + 10 s)).
ATTACHMENT_SETTLE_AFTER = env.float("ATTACHMENT_SETTLE_AFTER", default=0.0)
DIRECTORY_CACHE_SECONDS = env.int("DIRECTORY_CACHE_SECONDS", default=24 * 3600)
# A SIRET the directory does not know is remembered that long (the same typo asked 60 times is
# one call), and each person may send that many lookups a minute to B2Brouter.
DIRECTORY_UNKNOWN_CACHE_SECONDS = env.int("DIRECTORY_UNKNOWN_CACHE_SECONDS", default=600)
DIRECTORY_LOOKUPS_PER_MINUTE = env.int("DIRECTORY_LOOKUPS_PER_MINUTE", default=20)
# A submission whose worker has not heard from B2Brouter for this long is taken over by
# another (each answer renews the claim). Taking over a live one is safe, only wasted: the
# second attempt settles by number and waits for uploads that may still land.
SUBMIT_STALE_AFTER = env.int("SUBMIT_STALE_AFTER", default=30)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite'}"
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("redis"):
    # Redis redelivers an unacked task after this; task backoffs stay well under it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    if CELERY_BROKER_URL.startswith("redis://"):
        # kombu's, keeping one Redis client per channel (core/broker.py).
        CELERY_BROKER_TRANSPORT = "core.broker:Transport"
else:
    # The embedded broker is a SQLite file shared by web, worker and beat: wait for its lock.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"connect_args": {"timeout": 30}}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Housekeeping (fetching legal XML and PDFs, acknowledgements, webhooks run again) has a queue of
# its own, so that a submission never waits behind it. Every worker consumes both (a worker
# started with -Q can take one); the broker hands them out in turn.
CELERY_HOUSEKEEPING_QUEUE = env.str("CELERY_HOUSEKEEPING_QUEUE",
                                    default=f"{CELERY_TASK_DEFAULT_QUEUE}-housekeeping")
# Each queue with its own exchange and routing key: two queues bound alike would both get every
# message.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name)
                      for name in (CELERY_TASK_DEFAULT_QUEUE, CELERY_HOUSEKEEPING_QUEUE)]
CELERY_TASK_ROUTES = {name: {"queue": CELERY_HOUSEKEEPING_QUEUE} for name in (
    "invoicing.invoice_fetch_legal", "invoicing.invoice_fetch_pdf",
    "invoicing.invoice_acknowledge", "core.export_build", "core.exports_clean",
    "invoicing.tax_reports_follow", "finance.payment_reports_resume")}
# What the reconciler enqueues again per run and per kind of housekeeping (the oldest first),
# and how long it leaves each one before asking again: a backlog drains, it never floods.
HOUSEKEEPING_BATCH = env.int("HOUSEKEEPING_BATCH", default=50)
HOUSEKEEPING_RETRY_AFTER = env.int("HOUSEKEEPING_RETRY_AFTER", default=900)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "invoicing.sync_states": {
        "task": "invoicing.sync_states",
        "schedule": env.float("SYNC_STATES_EVERY", default=60.0),
    },
    "invoicing.reconcile": {
        "task": "invoicing.reconcile",
        "schedule": env.float("RECONCILE_EVERY", default=10.0),
    },
    "core.exports_clean": {"task": "core.exports_clean", "schedule": 300.0},
    # Declarations to the tax administration not at their end, read again (webhooks first).
    "invoicing.tax_reports_follow": {
        "task": "invoicing.tax_reports_follow",
        "schedule": env.float("TAX_REPORTS_FOLLOW_EVERY", default=60.0),
    },
    # Payments to report to B2Brouter whose task gave up waiting for the deposit.
    "finance.payment_reports_resume": {"task": "finance.payment_reports_resume",
                                       "schedule": 300.0},
}
# Exports: at most this many rows (the invoice list) or files (the archive's ZIP) are made while
# the page waits; more are made by a worker, kept EXPORT_KEEP_HOURS for the person to download.
EXPORT_IMMEDIATE_ROWS = env.int("EXPORT_IMMEDIATE_ROWS", default=5000)
EXPORT_IMMEDIATE_FILES = env.int("EXPORT_IMMEDIATE_FILES", default=1000)
EXPORT_KEEP_HOURS = env.int("EXPORT_KEEP_HOURS", default=24)
EXPORT_STALE_AFTER = env.int("EXPORT_STALE_AFTER", default=600)
EXPORT_MAX_ATTEMPTS = 3
CELERY_TIMEZONE = TIME_ZONE

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="line")  # "line" or "json"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "core.logging.RedactSecretsFilter"},
        "context": {"()": "core.logging.ContextFilter"},
        "client_errors": {"()": "core.logging.ClientErrorsWithoutTraceback"},
    },
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s %(context)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "line",
            "filters": ["context", "redact_secrets", "client_errors"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Ours only (Django adds its own console handler with DEBUG on: each line twice).
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
