"""Seistriage settings: every value comes from the environment (see README and .env.example)."""

from pathlib import Path
from urllib.parse import urlparse

import dj_database_url

from config.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_path,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
DATA_DIR = env_path("SEISTRIAGE_DATA_DIR", BASE_DIR / "var")
# The shared bundle of real data is read in place and never copied into the repository.
SHARED_DATA_DIR = env_path("SEISTRIAGE_SHARED_DATA", BASE_DIR.parent / "shared" / "data")
# The small real-data demo bundle that ships with the repository (load_demo without --data reads it).
DEMO_BUNDLE_DIR = env_path("SEISTRIAGE_DEMO_BUNDLE", BASE_DIR / "demo")

# Only a DEBUG (development) run may fall back to a fixed key; production must set SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-only-for-debug-mode" if DEBUG else None)
if not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfiguredEnv("SECRET_KEY must be at least 32 characters when DEBUG is off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "waveforms",
    "events",
    "ranking",
    "analyst",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy everywhere, Cache-Control: no-store on /api/ (analyst/web/security.py).
    "analyst.web.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The declared size of an upload is checked before the CSRF check reads (and spools) the multipart body.
    "analyst.web.security.UploadSizeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A database, cache or broker that is down: 503 "try again" instead of a 500 (analyst/web/service_unavailable.py).
    "analyst.web.service_unavailable.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "analyst.web.context_processors.navigation",
            ],
        },
    },
]


def _database_config() -> dict[str, object]:
    default_url = f"sqlite:///{DATA_DIR / 'seistriage.sqlite3'}"
    url = env_str("DATABASE_URL", default_url)
    scheme = urlparse(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfiguredEnv(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite or postgres)")
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60)))
    if scheme == "sqlite":
        # A file (not memory) test database, so a real Celery worker process can see the test data.
        config["TEST"] = {"NAME": str(DATA_DIR / "test-seistriage.sqlite3")}
        config["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
        config["CONN_MAX_AGE"] = 0
    else:
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "queue"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"

# Uploads: big waveform files go to disk, never into memory, and there is a hard cap.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
SEISTRIAGE_MAX_UPLOAD_BYTES = env_int("SEISTRIAGE_MAX_UPLOAD_BYTES", 512 * 1024 * 1024, minimum=1)
# Gzip input (uploads, import commands, the watched folder) is decompressed under DATA_DIR/tmp, never past these:
# bytes decompressed, and decompressed / compressed (a gzip bomb of zeros expands about 1000 times).
SEISTRIAGE_GZIP_MAX_BYTES = env_int("SEISTRIAGE_GZIP_MAX_BYTES", 2 * 1024 * 1024 * 1024, minimum=1)
SEISTRIAGE_GZIP_MAX_RATIO = env_int("SEISTRIAGE_GZIP_MAX_RATIO", 100, minimum=2)

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
# Behind a TLS proxy that sets this header (and strips it from clients), e.g. HTTP_X_FORWARDED_PROTO: the request
# counts as HTTPS when it says "https" (without it, SECURE_SSL_REDIRECT behind a proxy redirects forever).
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER", " ").strip()
SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER, "https") if _PROXY_SSL_HEADER else None
# Login rate limiting (analyst/web/ratelimit.py): this many failed logins per user name and client address per window
# -> 429; and a slower limit per user name from every address (distributed guessing).
SEISTRIAGE_LOGIN_FAILURES = env_int("SEISTRIAGE_LOGIN_FAILURES", 5, minimum=1)
SEISTRIAGE_LOGIN_WINDOW_SECONDS = env_int("SEISTRIAGE_LOGIN_WINDOW_SECONDS", 900, minimum=1)
SEISTRIAGE_LOGIN_NAME_FAILURES = env_int("SEISTRIAGE_LOGIN_NAME_FAILURES", 100, minimum=1)
SEISTRIAGE_LOGIN_NAME_WINDOW_SECONDS = env_int("SEISTRIAGE_LOGIN_NAME_WINDOW_SECONDS", 3600, minimum=1)
# A browser that logged in as a name (a signed cookie) is let through that name's name-wide lock for this many days,
# so a slow attacker cannot lock the owner out; the per-address limit still holds for it.
SEISTRIAGE_KNOWN_DEVICE_DAYS = env_int("SEISTRIAGE_KNOWN_DEVICE_DAYS", 90, minimum=1)
# Behind the TLS proxy: the META name of the header in which it passes the client's address (it must overwrite or
# append to what clients send), e.g. HTTP_X_FORWARDED_FOR; its last entry is the client. Empty: REMOTE_ADDR.
SEISTRIAGE_CLIENT_ADDRESS_HEADER = env_str("SEISTRIAGE_CLIENT_ADDRESS_HEADER", " ").strip()
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# API tokens (analyst/api/authentication.py) are refused this many days after they were made (401).
SEISTRIAGE_API_TOKEN_DAYS = env_int("SEISTRIAGE_API_TOKEN_DAYS", 90, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "analyst.api.authentication.TokenAwareSessionAuthentication",
        "analyst.api.authentication.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "analyst.api.rendering.RememberedContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Celery: the embedded default is kombu's filesystem transport, so no broker server is needed.
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport expects its folders to exist before the first message.
    for _folder in ("messages", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "messages"),
        "data_folder_out": str(BROKER_DIR / "messages"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1800, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1500, minimum=5)
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_QUEUES_NAMES = ("cpu", "gpu", "training")
# Each task names its queue on its decorator (ranking/tasks.py, analyst/tasks.py); no routing table.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# Django cache (rendered waveform figures). Default: files under the data directory, shared by the web and
# worker processes; "redis://host:6379/1" for Redis; "locmem://" for one process's memory.
CACHE_URL = env_str("CACHE_URL", "file://")
CACHES: dict[str, dict[str, object]]
if urlparse(CACHE_URL).scheme in {"redis", "rediss"}:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL == "file://":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }
elif CACHE_URL == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfiguredEnv(f"CACHE_URL {CACHE_URL!r} is not supported (use file://, locmem:// or redis://...)")

SEISTRIAGE_IMPORT_BATCH_SIZE = env_int("SEISTRIAGE_IMPORT_BATCH_SIZE", 2000, minimum=1)
# QuakeML 1.2 files are read as a stream (events.importers.quakeml_stream); false reads them whole with ObsPy.
SEISTRIAGE_QUAKEML_STREAMING = env_bool("SEISTRIAGE_QUAKEML_STREAMING", True)
# Events closer than these are taken to be the same event when a format carries no stable id.
SEISTRIAGE_MATCH_SECONDS = env_float("SEISTRIAGE_MATCH_SECONDS", 2.0)
SEISTRIAGE_MATCH_KM = env_float("SEISTRIAGE_MATCH_KM", 20.0)
# Review claims (analyst workbench): a claim lapses this long after its last heartbeat.
SEISTRIAGE_CLAIM_SECONDS = env_int("SEISTRIAGE_CLAIM_SECONDS", 600, minimum=30)
# Presence (who has an event page open) lapses this long after the page's last heartbeat (kept in the cache).
SEISTRIAGE_PRESENCE_SECONDS = env_int("SEISTRIAGE_PRESENCE_SECONDS", 45, minimum=15)
# One-key commit buttons of the review page, "key|decision|event type|certainty|label;..." (analyst/commit_buttons.py).
SEISTRIAGE_COMMIT_BUTTONS = env_str("SEISTRIAGE_COMMIT_BUTTONS", "")

# Importance ranking (docs/ranking.md). The deployment profile says what an analyst sees first: regional (real
# events by expected significance), verification (explosion-like and unusual events) or hazard (other natural
# events); ranking.ml.importance.PROFILES. Class weights: "earthquake=1,explosion_like=0.3,...", classes left
# out keep the profile's weights. Kept as text here (settings import no app); ranking parses both when it
# starts and refuses a bad value.
SEISTRIAGE_PROFILE = env_str("SEISTRIAGE_PROFILE", "regional")
SEISTRIAGE_CLASS_WEIGHTS = env_str("SEISTRIAGE_CLASS_WEIGHTS", " ")
# Conformal triage (docs/ranking.md): the error rate alpha of the prediction sets behind "confident: class" /
# "needs review". Auto-commit off by default: when on, every confident event is decided as its class by the
# system user and audited as an automatic decision (analyst/auto_decisions.py).
SEISTRIAGE_TRIAGE_ALPHA = env_float("SEISTRIAGE_TRIAGE_ALPHA", 0.01)
SEISTRIAGE_TRIAGE_AUTO_COMMIT = env_bool("SEISTRIAGE_TRIAGE_AUTO_COMMIT", False)
# The operator's mine/quarry gazetteer CSV (name,latitude,longitude,type); `import_gazetteer` copies one here.
SEISTRIAGE_GAZETTEER = env_path("SEISTRIAGE_GAZETTEER", DATA_DIR / "gazetteer.csv")
SEISTRIAGE_SCORING_BATCH_SIZE = env_int("SEISTRIAGE_SCORING_BATCH_SIZE", 200, minimum=1)
SEISTRIAGE_SCORING_STALL_SECONDS = env_int("SEISTRIAGE_SCORING_STALL_SECONDS", 900, minimum=10)
# Waveform features and similarity (docs/ranking.md): stations measured per event; reviewed events within
# SEISTRIAGE_SIMILARITY_KM, at most SEISTRIAGE_SIMILARITY_NEIGHBOURS of them, are cross-correlated.
SEISTRIAGE_WAVEFORM_MAX_STATIONS = env_int("SEISTRIAGE_WAVEFORM_MAX_STATIONS", 30, minimum=1)
SEISTRIAGE_SIMILARITY_KM = env_float("SEISTRIAGE_SIMILARITY_KM", 20.0)
SEISTRIAGE_SIMILARITY_NEIGHBOURS = env_int("SEISTRIAGE_SIMILARITY_NEIGHBOURS", 5, minimum=0)
# Whether the ranker stacks the waveform CNN's probabilities (docs/cnn.md, "Proof of value"): "auto" follows the
# decision `evaluate --kind ranker --cnn-value` stored on the active CNN (in only when the bootstrap interval of
# ΔAP lies above 0; in while no such decision exists); "on" / "off" force it. Parsed by ranking.inputs.
SEISTRIAGE_RANKER_CNN_FEATURES = env_str("SEISTRIAGE_RANKER_CNN_FEATURES", "auto")
# Samples one waveform figure may read (channels x window x rate) when it cannot draw from summaries (a custom
# filter, or short files): 20 million is about two channel-days at 100 Hz; a larger window answers 400.
SEISTRIAGE_WAVEFORM_MAX_SAMPLES = env_int("SEISTRIAGE_WAVEFORM_MAX_SAMPLES", 20_000_000, minimum=1)
# Continuous intake: a folder scanned every SEISTRIAGE_WATCH_SECONDS by Celery beat (empty = off).
SEISTRIAGE_WATCH_DIR = env_str("SEISTRIAGE_WATCH_DIR", "")
SEISTRIAGE_WATCH_SECONDS = env_float("SEISTRIAGE_WATCH_SECONDS", 60.0)
CELERY_BEAT_SCHEDULE = {
    "scoring-sweep": {
        "task": "ranking.tasks.sweep_scoring",
        "schedule": env_float("SEISTRIAGE_SCORING_SWEEP_SECONDS", 300.0),
    },
}
# Upload jobs (ImportJob rows) queued or running with no progress for this long are re-queued by the import sweep
# when their files are still in DATA_DIR/uploads (a broker restarted without persistence lost their messages).
SEISTRIAGE_IMPORT_STALL_SECONDS = env_float("SEISTRIAGE_IMPORT_STALL_SECONDS", 600.0)
_JOB_SWEEP_SECONDS = env_float("SEISTRIAGE_IMPORT_SWEEP_SECONDS", 120.0)
CELERY_BEAT_SCHEDULE["import-sweep"] = {"task": "analyst.tasks.sweep_import_jobs", "schedule": _JOB_SWEEP_SECONDS}
# Bulletin jobs (analyst/bulletins/jobs.py) stalled as long are re-queued by the bulletin sweep (same interval), which
# also deletes draft bulletins (worker-built files for one user) after this many days.
CELERY_BEAT_SCHEDULE["bulletin-sweep"] = {"task": "analyst.tasks.sweep_bulletin_jobs", "schedule": _JOB_SWEEP_SECONDS}
SEISTRIAGE_BULLETIN_DRAFT_DAYS = env_int("SEISTRIAGE_BULLETIN_DRAFT_DAYS", 7, minimum=1)
# GET /api/export/ streams a draft within the request only up to this many events; larger drafts are written by a
# worker (POST /api/bulletins/drafts/), as the page always does.
SEISTRIAGE_BULLETIN_STREAM_MAX_EVENTS = env_int("SEISTRIAGE_BULLETIN_STREAM_MAX_EVENTS", 2000, minimum=1)
if SEISTRIAGE_WATCH_DIR:
    CELERY_BEAT_SCHEDULE["watch-folder"] = {
        "task": "analyst.tasks.scan_watch_folder",
        "schedule": SEISTRIAGE_WATCH_SECONDS,
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"matplotlib": {"level": "WARNING"}, "obspy": {"level": "WARNING"}},
}

# Publishing (docs/publishing.md): bulletins, the FDSN event service, upstream polling, API docs.
SEISTRIAGE_AGENCY_ID = env_str("SEISTRIAGE_AGENCY_ID", "SEISTRIAGE")
# Which events /fdsnws/event/1/ serves: "accepted" (reviewed and accepted only) or "all" (also those not yet
# reviewed; rejected events are never served). Public by default, as FDSN services are; false: login needed.
SEISTRIAGE_FDSN_EVENTS = env_str("SEISTRIAGE_FDSN_EVENTS", "accepted")
if SEISTRIAGE_FDSN_EVENTS not in {"accepted", "all"}:
    raise ImproperlyConfiguredEnv(f"SEISTRIAGE_FDSN_EVENTS must be 'accepted' or 'all', got {SEISTRIAGE_FDSN_EVENTS!r}")
SEISTRIAGE_FDSN_PUBLIC = env_bool("SEISTRIAGE_FDSN_PUBLIC", default=True)
# The largest answer: about 4.5 ms of CPU per event, so 2000 events stay well inside the 60 s worker timeout.
SEISTRIAGE_FDSN_MAX_EVENTS = env_int("SEISTRIAGE_FDSN_MAX_EVENTS", 2000, minimum=1)
# Queries a minute one address may make without a login (0: no limit); past it, 429 with Retry-After.
SEISTRIAGE_FDSN_ANONYMOUS_PER_MINUTE = env_int("SEISTRIAGE_FDSN_ANONYMOUS_PER_MINUTE", 60, minimum=0)
SEISTRIAGE_UPSTREAM_TIMEOUT = env_float("SEISTRIAGE_UPSTREAM_TIMEOUT", 60.0)
# A whole poll of one upstream (WADL, query, redirects) must end within this many seconds, and an answer may hold
# at most this many bytes (analyst/ingest/upstream.py).
SEISTRIAGE_UPSTREAM_DEADLINE = env_float("SEISTRIAGE_UPSTREAM_DEADLINE", 600.0)
SEISTRIAGE_UPSTREAM_MAX_BYTES = env_int("SEISTRIAGE_UPSTREAM_MAX_BYTES", 256 * 1024 * 1024, minimum=1024)
# Upstream FDSN sources (FdsnSource rows) are checked this often by Celery beat; each is polled on its own interval.
SEISTRIAGE_UPSTREAM_TICK_SECONDS = env_float("SEISTRIAGE_UPSTREAM_TICK_SECONDS", 60.0)
CELERY_BEAT_SCHEDULE["upstream-sources"] = {
    "task": "analyst.tasks.poll_upstream_sources",
    "schedule": SEISTRIAGE_UPSTREAM_TICK_SECONDS,
}
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
SPECTACULAR_SETTINGS = {
    "TITLE": "Seistriage API",
    "DESCRIPTION": "Review queue, decisions, claims, bulletins and API tokens. Authenticate with a session or "
    "`Authorization: Token <key>`; every endpoint needs a Seistriage role unless stated.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page need a Seistriage role like the API they describe (outsiders get 403).
    "SERVE_PERMISSIONS": ["analyst.api.permissions.HasSeistriageRole"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per vocabulary (the event's fields and the review/export inputs share them).
    "ENUM_NAME_OVERRIDES": {
        "EventTypeEnum": "events.vocabulary.EVENT_TYPE_CHOICES",
        "CertaintyEnum": "events.vocabulary.TypeCertainty",
    },
}
# Learning loop (docs/learning.md): retrain after this many new analyst labels (0 = never), nightly at this UTC
# hour (-1 = never), hold out the newest share of labelled events for the candidate-vs-active comparison, and
# optionally promote automatically when the candidate beats the active model by a margin on a metric.
SEISTRIAGE_RETRAIN_AFTER_LABELS = env_int("SEISTRIAGE_RETRAIN_AFTER_LABELS", 200, minimum=0)
SEISTRIAGE_NIGHTLY_TRAINING_HOUR = env_int("SEISTRIAGE_NIGHTLY_TRAINING_HOUR", 2, minimum=-1)
SEISTRIAGE_HOLDOUT_SHARE = env_float("SEISTRIAGE_HOLDOUT_SHARE", 0.2)
if not 0.05 <= SEISTRIAGE_HOLDOUT_SHARE <= 0.5:
    raise ImproperlyConfiguredEnv(f"SEISTRIAGE_HOLDOUT_SHARE must lie in [0.05, 0.5], got {SEISTRIAGE_HOLDOUT_SHARE}")
SEISTRIAGE_AUTO_PROMOTE_METRIC = env_str("SEISTRIAGE_AUTO_PROMOTE_METRIC", "")  # e.g. importance.average_precision
SEISTRIAGE_AUTO_PROMOTE_MARGIN = env_float("SEISTRIAGE_AUTO_PROMOTE_MARGIN", 0.005)
# A queued or running training run with no heartbeat (progress or log line) for this long lost its worker: the
# stall check, run by beat a few times per period, marks it failed so the next run of its kind can start.
SEISTRIAGE_TRAINING_STALL_SECONDS = env_int("SEISTRIAGE_TRAINING_STALL_SECONDS", 1800, minimum=60)
CELERY_BEAT_SCHEDULE["training-stall-check"] = {
    "task": "ranking.tasks.sweep_training_runs",
    "schedule": max(30.0, SEISTRIAGE_TRAINING_STALL_SECONDS / 6),
}
if 0 <= SEISTRIAGE_NIGHTLY_TRAINING_HOUR <= 23:
    from celery.schedules import crontab

    CELERY_BEAT_SCHEDULE["nightly-training"] = {
        "task": "ranking.tasks.train_nightly",
        "schedule": crontab(hour=SEISTRIAGE_NIGHTLY_TRAINING_HOUR, minute=0),
    }
elif SEISTRIAGE_NIGHTLY_TRAINING_HOUR != -1:
    raise ImproperlyConfiguredEnv(
        f"SEISTRIAGE_NIGHTLY_TRAINING_HOUR must be 0-23 or -1, got {SEISTRIAGE_NIGHTLY_TRAINING_HOUR}"
    )
