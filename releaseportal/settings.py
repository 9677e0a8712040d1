"""Release Portal settings: every value comes from the environment, read here and nowhere else.

Unset DATABASE_URL means an SQLite file under var/; unset CELERY_BROKER_URL means tasks run
eagerly in-process. That is the embedded default `make run` uses on a fresh machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RP_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
# Fernet keys for the portal's own secrets at rest (apps/audit/encryption.py), comma-separated,
# current first; unset: a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "guardian",
    "simple_history",
    "apps.audit",
    "apps.accounts",
    "apps.catalog",
    "apps.notifications",
    "apps.change_types",
    "apps.changes",
    "apps.delivery",
    "apps.incidents",
    "apps.access_reviews",
    "apps.environments",
    "apps.validation",
    "apps.releases",
    "apps.reports",
    "apps.sso",
    "apps.scim",
]

MIDDLEWARE = [
    # Request counts and latencies for /metrics; first and last so they time the whole stack.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Right inside SecurityMiddleware, so every answer (an early refusal of the input guard
    # included) carries the Content-Security-Policy below.
    "csp.middleware.CSPMiddleware",
    # Before sessions and auth: a NUL in the path or query never reaches a database lookup.
    "releaseportal.faults.InputGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in person's timezone for the pages they read (apps/accounts/timezones.py).
    "apps.accounts.timezones.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.audit.middleware.RequestContextMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "releaseportal.urls"
WSGI_APPLICATION = "releaseportal.wsgi.application"

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
                "releaseportal.navigation.navigation",
                # "Sign in with <provider>" on the sign-in page when OpenID Connect is on.
                "apps.sso.context.sign_in_options",
            ],
            # person / person_audit / when / day / when_tag on every page without {% load %}.
            "builtins": ["releaseportal.templatetags.portal"],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take the write lock up front, so two writers never both read the
    # audit chain head and then collide; the timeout makes the second one wait, not fail.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
# A streaming read replica (releaseportal/dbrouter.py): only reads inside a replica_reads() scope
# (reports, dashboards, audit search, evidence packs) go there, while it answers and lags no more
# than DATABASE_REPLICA_MAX_LAG_SECONDS; everything else reads and writes the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 30)
# How often each process measures the replica's lag (and retries a replica that was down).
DATABASE_REPLICA_CHECK_SECONDS = env_int("DATABASE_REPLICA_CHECK_SECONDS", 5)
# Evidence packs and generated report runs wait this long for the replica to replay what the
# primary had written when they started, else read the primary.
DATABASE_REPLICA_CATCH_UP_SECONDS = env_int("DATABASE_REPLICA_CATCH_UP_SECONDS", 5)
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL,
                                                 conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
    if DATABASES["replica"]["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must name the same kind of database as DATABASE_URL")
    if DATABASES["replica"]["ENGINE"].endswith("postgresql"):
        # A replica that is down must not hang a page: give up after a few seconds, read the primary.
        DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    # Tests: the replica is a mirror of the test database (the router then reads the primary);
    # tests/foundation/test_read_replica.py points it at the streaming replica's copy.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["releaseportal.dbrouter.ReplicaRouter"]
DB_VENDOR_IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
# django-prometheus's wrappers of the same backends count queries, errors and connections per
# database for /metrics; behaviour is Django's own.
_PROMETHEUS_ENGINES = {"django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
                       "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3"}
for _db in DATABASES.values():
    _db["ENGINE"] = _PROMETHEUS_ENGINES.get(_db["ENGINE"], _db["ENGINE"])

# --- Metrics (/metrics) ----------------------------------------------------------------------
# The scrape is admitted by a bearer token or from listed networks; with neither it is off (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "") or ""
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Passwords, subject to LOCAL_PASSWORD_LOGIN (apps/sso/backends.py).
    "apps.sso.backends.LocalPasswordBackend",
    # OpenID Connect (mozilla-django-oidc), answering only the sign-in callback and only when
    # OIDC_ISSUER is set.
    "apps.sso.backends.PortalOIDCBackend",
    "guardian.backends.ObjectPermissionBackend",
]

# --- Single sign-on (OpenID Connect, apps/sso) ------------------------------------------------
# Unset OIDC_ISSUER: single sign-on is off and the sign-in page is the password form alone.
# Endpoints and keys come from <issuer>/.well-known/openid-configuration, fetched when first
# needed and kept OIDC_DISCOVERY_CACHE_SECONDS.
OIDC_ISSUER = (env_str("OIDC_ISSUER", "") or "").rstrip("/")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID", "") or ""
# The client secret in clear, or (preferred) the path of a file holding it (a mounted secret),
# read when needed so a rotated file is picked up.
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "") or ""
OIDC_CLIENT_SECRET_FILE = env_str("OIDC_CLIENT_SECRET_FILE", "") or ""
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile groups")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "") or ""
OIDC_SIGN_ALGO = env_str("OIDC_SIGN_ALGO", "RS256")
OIDC_DISCOVERY_CACHE_SECONDS = env_int("OIDC_DISCOVERY_CACHE_SECONDS", 3600)
OIDC_TIMEOUT_SECONDS = env_int("OIDC_TIMEOUT_SECONDS", 10)
if OIDC_ISSUER and not OIDC_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_ISSUER is set: OIDC_CLIENT_ID must be set too")
if OIDC_ISSUER and not (OIDC_CLIENT_SECRET or OIDC_CLIENT_SECRET_FILE):
    raise ImproperlyConfigured("OIDC_ISSUER is set: OIDC_CLIENT_SECRET_FILE (or OIDC_CLIENT_SECRET) must be set too")
# Local passwords: "on" (everyone with a password, the demo), or "break-glass" (only accounts
# flagged with `manage.py sso_break_glass`; everyone else signs in with single sign-on).
LOCAL_PASSWORD_LOGIN = env_str("LOCAL_PASSWORD_LOGIN", "on")
if LOCAL_PASSWORD_LOGIN not in ("on", "break-glass"):
    raise ImproperlyConfigured(f"LOCAL_PASSWORD_LOGIN must be on or break-glass, not {LOCAL_PASSWORD_LOGIN!r}")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Failed logins per username and per client address inside the window before the form refuses.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# Monthly reports count months in this timezone (METRICS.md); defaults to TIME_ZONE.
REPORT_TIMEZONE = env_str("REPORT_TIMEZONE", TIME_ZONE)

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Archives and evidence packs: local filesystem by default, an S3-compatible bucket when set.
ARCHIVE_S3_BUCKET = env_str("ARCHIVE_S3_BUCKET")
if ARCHIVE_S3_BUCKET:
    STORAGES["archive"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ARCHIVE_S3_BUCKET,
            "endpoint_url": env_str("ARCHIVE_S3_ENDPOINT_URL"),
            "access_key": env_str("ARCHIVE_S3_ACCESS_KEY_ID"),
            "secret_key": env_str("ARCHIVE_S3_SECRET_ACCESS_KEY"),
        },
    }
else:
    STORAGES["archive"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "archive")},
    }

# Upload limits (bytes): evidence documents and incident attachments.
EVIDENCE_MAX_BYTES = env_int("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)
# A build never deployed to production may be purged from the artifact repository this many days
# after it was registered (apps/releases/retention.py; production builds follow their retention policy).
ARTIFACT_UNPROMOTED_DAYS = env_int("ARTIFACT_UNPROMOTED_DAYS", 90)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 12 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Email -----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if env_str("EMAIL_HOST") else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Release Portal <release-portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Long jobs on a queue of their own when CELERY_HEAVY_QUEUE names one (docs/topology.md: a worker
# pool per queue), so evidence packs and report runs never delay approval notifications and
# webhooks on the default queue ("celery"). Unset: every task on the default queue.
CELERY_HEAVY_QUEUE = env_str("CELERY_HEAVY_QUEUE")
HEAVY_TASKS = [
    "apps.audit.tasks.generate_evidence_pack",
    "apps.audit.tasks.archive_closed_records",
    "apps.audit.tasks.verify_audit_chain",
    "apps.reports.tasks.generate_monthly_reports",
    "apps.reports.tasks.fill_metric_snapshots",
    "apps.access_reviews.tasks.open_quarterly_campaign",
    "apps.access_reviews.tasks.close_campaign",
    "apps.access_reviews.tasks.generate_campaign_report",
]
CELERY_TASK_ROUTES = {name: {"queue": CELERY_HEAVY_QUEUE} for name in HEAVY_TASKS} if CELERY_HEAVY_QUEUE else {}
# Work left "running" this long belongs to a dead worker: the reaper fails it with a reason.
STUCK_WORK_TIMEOUT_MINUTES = env_int("STUCK_WORK_TIMEOUT_MINUTES", 15)

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.BearerTokenAuthentication",
        "apps.accounts.authentication.ReadOnlySessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.api_permissions.TokenScopePermission"],
    "DEFAULT_PAGINATION_CLASS": "releaseportal.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Nullable sources declared nullable in responses (releaseportal/api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "releaseportal.api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "releaseportal.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Bounded JSON (size and depth checked before parsing, NUL refused by path): releaseportal/input.py.
    "DEFAULT_PARSER_CLASSES": [
        "releaseportal.api.parsers.PortalJSONParser",
        "releaseportal.api.parsers.PortalFormParser",
        "releaseportal.api.parsers.PortalMultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Release Portal API",
    "DESCRIPTION": "Pipeline and integration API. Contract: changes, delivery, incidents, reports, access, evidence packs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI is served from our own static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["apps.accounts.api_permissions.PortalMemberPermission"],
    # Schema quality is tested (tests/foundation/test_api_conventions.py), not a deploy check.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # Every operation documents the standard refusals with the error body (releaseportal/api/schema.py).
        "releaseportal.api.schema.add_standard_error_responses",
    ],
}
# Idempotency records are kept this long before the housekeeping task deletes them.
IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 24)

# --- Security --------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Database sessions that name their account in a column (apps/accounts/sessions.py): a person
# deactivated over SCIM loses every session by one lookup.
SESSION_ENGINE = "apps.accounts.sessions"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SILENCED_SYSTEM_CHECKS: list[str] = []
# Content-Security-Policy on every answer (django-csp): scripts and styles only from our own
# static files, no inline <script>, no inline event handler, no style attribute, no eval (htmx
# is configured with allowEval false in templates/base.html; templates ask for behaviour with
# data- attributes handled by static/js/portal.js). Swagger UI at /api/docs/ loads its init
# script as a file (SpectacularSwaggerSplitView) and its page style from static/css/swagger.css.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Evidence signing (evidence packs) -------------------------------------------------------
# PEM of the portal's Ed25519 signing key; a key derived from SECRET_KEY is used when unset
# (development only: production sets one and keeps old public keys in SIGNING_PUBLIC_KEYS_DIR).
EVIDENCE_SIGNING_KEY_PEM = env_str("EVIDENCE_SIGNING_KEY_PEM")
EVIDENCE_SIGNING_KEY_FILE = env_str("EVIDENCE_SIGNING_KEY_FILE")

# Structured JSON lines by default (LOG_FORMAT=plain for a human console): every line names the
# request id, the actor and the change; secrets are scrubbed before formatting (logcontext.py).
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "releaseportal.logcontext.RequestContextFilter"},
        "redact": {"()": "releaseportal.logcontext.RedactSecretsFilter"},
        # A refused request (403) is an everyday answer, not a fault: one line, no traceback.
        "quiet_permission_denied": {"()": "releaseportal.log_filters.QuietPermissionDenied"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(actor)s %(change)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(actor)s %(change)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain",
                             "filters": ["context", "redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["quiet_permission_denied"]},
        "django.security": {"filters": ["quiet_permission_denied"]},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Incidents (apps.incidents) --------------------------------------------------------------
# Post-incident reviews are due this many days after the incident is resolved (or started).
INCIDENT_REVIEW_DUE_DAYS = env_int("INCIDENT_REVIEW_DUE_DAYS", 5)

# --- Access reviews (apps.access_reviews) ----------------------------------------------------
# Keeping a grant unused for longer than this needs a justification; at close, undecided grants
# unused for longer are revoked by policy.
ACCESS_REVIEW_INACTIVE_DAYS = env_int("ACCESS_REVIEW_INACTIVE_DAYS", 90)
# The quarterly campaign is due this many days after it opens; reminders start this many days before.
ACCESS_REVIEW_DUE_DAYS = env_int("ACCESS_REVIEW_DUE_DAYS", 30)
ACCESS_REVIEW_REMIND_DAYS = env_int("ACCESS_REVIEW_REMIND_DAYS", 7)
# Campaigns with more items than this close in a Celery task (marked "closing" at once).
ACCESS_REVIEW_CLOSE_IN_REQUEST_MAX_ITEMS = env_int("ACCESS_REVIEW_CLOSE_IN_REQUEST_MAX_ITEMS", 2000)

# --- Audit archives (apps.audit) -------------------------------------------------------------
# Closed records older than this many days are copied monthly into immutable archives
# (gzip JSON Lines per record class and month) in STORAGES["archive"].
AUDIT_ACTIVE_HORIZON_DAYS = env_int("AUDIT_ACTIVE_HORIZON_DAYS", 730)
# The PostgreSQL role whose members (and superusers) may run sanctioned maintenance past the
# append-only triggers (apps/audit/triggers.py); the serving role must not be one of them.
AUDIT_MAINTENANCE_ROLE = env_str("AUDIT_MAINTENANCE_ROLE", "rp_audit_maintenance")
# The chain head is signed into the archive storage every quarter hour (apps/audit/anchors.py);
# audit_verify fails when events older than this are under no anchor (anchors removed, or beat down).
AUDIT_ANCHOR_MAX_AGE_MINUTES = env_int("AUDIT_ANCHOR_MAX_AGE_MINUTES", 60)

# --- Reports (apps.reports) ------------------------------------------------------------------
# The DORA benchmark table the tiers use (apps/reports/tiers.py lists the years it knows); every
# report names the year it used.
REPORT_BENCHMARK_YEAR = env_int("REPORT_BENCHMARK_YEAR", 2023)

# --- Gate rules of the apps above delivery (apps/delivery/gate_rules.py) ---------------------
# Each app registers its rules in AppConfig.ready(). Every rule named here must be registered:
# a missing one is a system check error (delivery.E001) and the gate denies while it is missing.
GATE_EXPECTED_RULES: list[str] = [
    "environments.config",  # config_drift, config_baseline_missing, runtime_parity
    "environments.migrations",  # migration_not_tested, migration_checksum_mismatch
    "validation.canary",  # canary_failed
    "releases.dependencies",  # dependency_not_deployed
    "releases.templates",  # pipeline_template_outdated, pipeline_template_evidence_missing
]

# --- Close guards of the apps above changes (apps/changes/close_guards.py) --------------------
# Asked before a change completes or a completed change closes. Every guard named here must be
# registered: a missing one is a system check error (changes.E001) and refuses those moves.
CHANGE_CLOSE_GUARDS_EXPECTED: list[str] = [
    "validation.log_review_signoff",
]

# --- Grafana deployment markers (apps/validation/grafana.py) ---------------------------------
# When both are set, every production deployment and rollback is pushed to Grafana's HTTP
# annotations API (POST {GRAFANA_URL}/api/annotations, Bearer token) by a retried Celery task.
# The token is a secret: it is never logged nor stored by the portal.
GRAFANA_URL = env_str("GRAFANA_URL")
GRAFANA_TOKEN = env_str("GRAFANA_TOKEN")
GRAFANA_TIMEOUT_SECONDS = env_int("GRAFANA_TIMEOUT_SECONDS", 5)

# --- Chat notifications (apps.notifications) --------------------------------------------------
# Slack and Microsoft Teams incoming webhooks, set per team on /teams/<slug>/notifications/.
# A webhook URL must be https and its host must match one of these patterns (a leading "*."
# matches any subdomain): a team lead cannot point the portal at an internal address.
CHAT_WEBHOOK_ALLOWED_HOSTS = env_list("CHAT_WEBHOOK_ALLOWED_HOSTS", [
    "hooks.slack.com", "*.webhook.office.com", "*.logic.azure.com", "*.environment.api.powerplatform.com"])
# Plain http webhooks (a local relay, the tests' receiver): off unless set.
CHAT_WEBHOOK_ALLOW_HTTP = env_bool("CHAT_WEBHOOK_ALLOW_HTTP", False)
CHAT_WEBHOOK_TIMEOUT_SECONDS = env_int("CHAT_WEBHOOK_TIMEOUT_SECONDS", 5)
# Retries after the first attempt on network errors, 5xx and 429, with exponential backoff
# (1 s, 2 s, 4 s ... capped at CHAT_WEBHOOK_BACKOFF_MAX_SECONDS, jittered); then it is failed.
CHAT_WEBHOOK_MAX_RETRIES = env_int("CHAT_WEBHOOK_MAX_RETRIES", 5)
CHAT_WEBHOOK_BACKOFF_MAX_SECONDS = env_int("CHAT_WEBHOOK_BACKOFF_MAX_SECONDS", 600)
# A message still queued this long after it was queued or last handed to a worker, and never
# tried, did not reach one (the broker was down when it was sent, or lost it): the re-send job
# (every 5 minutes) hands it over again. One that was tried waits out Celery's backoff
# (CHAT_WEBHOOK_BACKOFF_MAX_SECONDS) as well. After CHAT_DELIVERY_MAX_REQUEUES re-sends it is
# failed, with the reason on the team's notifications page.
CHAT_DELIVERY_REQUEUE_AFTER_MINUTES = env_int("CHAT_DELIVERY_REQUEUE_AFTER_MINUTES", 5)
CHAT_DELIVERY_MAX_REQUEUES = env_int("CHAT_DELIVERY_MAX_REQUEUES", 3)

# --- Guards on change moves from the apps above changes (apps/changes/transition_guards.py) ---
# A named guard that no app registers is a system check error (changes.E002) and refuses the moves it judges.
CHANGE_TRANSITION_GUARDS: list[str] = ["releases.cadence", "releases.checkpoints"]

# --- Provisioning over SCIM 2.0 (apps/scim, django-scim2) ------------------------------------
# /scim/v2/ answers a service account's token that carries the scope `scim` (README,
# "Provisioning (SCIM 2.0)"). Resource locations are absolute URLs on SITE_URL.
SCIM_MAX_RESULTS = env_int("SCIM_MAX_RESULTS", 200)
SCIM_SERVICE_PROVIDER = {
    "USER_ADAPTER": "apps.scim.adapters.PortalUserAdapter",
    "GROUP_ADAPTER": "apps.scim.adapters.PortalGroupAdapter",
    "GROUP_MODEL": "apps.accounts.models.Team",
    "USER_FILTER_PARSER": "apps.scim.filters.PortalUserFilterQuery",
    "GROUP_FILTER_PARSER": "apps.scim.filters.PortalGroupFilterQuery",
    "SERVICE_PROVIDER_CONFIG_MODEL": "apps.scim.adapters.PortalServiceProviderConfig",
    "BASE_LOCATION_GETTER": "apps.scim.adapters.base_location",
    "AUTH_CHECK_MIDDLEWARE": "apps.scim.auth.ScimTokenCheck",
    "NETLOC": SITE_URL.split("://", 1)[-1].split("/", 1)[0],
    "AUTHENTICATION_SCHEMES": [{"type": "oauthbearertoken", "name": "Bearer token", "primary": True}],
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
}
