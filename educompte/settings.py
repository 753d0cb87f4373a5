"""Django settings for Educompte.

Everything that differs between machines comes from environment variables (see README).
Secrets that are not given are generated once and kept under ``var/`` so that a
development checkout works without configuration and keeps its data readable.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EDUCOMPTE_VAR_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _persistent_secret(env_name: str, filename: str, nbytes: int) -> str:
    """Secret from the environment, else generated once and kept in var/ (mode 0600)."""
    value = os.environ.get(env_name)
    if value:
        return value
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / filename
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).decode())
    return path.read_text().strip()


DEBUG = _env_bool("EDUCOMPTE_DEBUG", False)
SECRET_KEY = _persistent_secret("EDUCOMPTE_SECRET_KEY", "secret_key", 48)
# AES-256-GCM key for provisional passwords (32 bytes, url-safe base64).
EDUCOMPTE_PROVISIONAL_PASSWORD_KEY = _persistent_secret(
    "EDUCOMPTE_PROVISIONAL_PASSWORD_KEY", "provisional_password_key", 32
)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("EDUCOMPTE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]
# The public origin mailed links (and SMS) are built from: never the request's Host
# header, which a client chooses (a forged port or host would reach a pupil's mailbox).
EDUCOMPTE_PUBLIC_URL = (
    os.environ.get("EDUCOMPTE_PUBLIC_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"
)
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("EDUCOMPTE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "widget_tweaks",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "dsfr",
    "oauth2_provider",
    "educompte.core",
    "educompte.schools",
    "educompte.accounts",
    "educompte.pupils",
    "educompte.audit",
    "educompte.letters",
    "educompte.registry",
    "educompte.demo",
    "educompte.sso",
    "educompte.www",
]

MIDDLEWARE = [
    # Outermost: work queued by a view (mail) runs when the final response is closed.
    "educompte.core.after_response.AfterResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "educompte.sso.middleware.ServiceFormActionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "educompte.core.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "educompte.urls"
WSGI_APPLICATION = "educompte.wsgi.application"

# django-dsfr's forms build a new renderer, hence a new template engine that loads and
# parses every field template again, for each form instance unless a renderer is set here:
# with it, one cached engine (the four filter fields of the console: 12 ms → under 1 ms).
FORM_RENDERER = "dsfr.forms.DsfrDjangoTemplates"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "educompte" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "educompte.core.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'educompte.sqlite3'}",
        conn_max_age=int(os.environ.get("EDUCOMPTE_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the console read while an import or a reset writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    if _env_bool("EDUCOMPTE_PG_NO_PARALLEL", True):
        # Every page's queries are bounded by one establishment: starting a parallel worker
        # costs more than it saves (the console's state count went from 13 ms to 5 ms),
        # and under load the workers would take the cores the other requests need.
        _pg_options["options"] = "-c max_parallel_workers_per_gather=0"
    if _env_bool("EDUCOMPTE_PG_PREPARE", True):
        # Parameters bound by the server, and a statement run five times on a connection
        # prepared: PostgreSQL then stops planning the same queries on every request
        # (0.3–1.5 ms each). Turn off behind a pooler in transaction mode that does not
        # keep prepared statements (PgBouncer before 1.21, or max_prepared_statements = 0).
        _pg_options["server_side_binding"] = True
        _pg_options["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "portal:login"
PASSWORD_HASHERS = ["educompte.core.hashers.Argon2idHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "educompte.core.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {
            "user_attributes": ("username", "first_name", "last_name"),
            "max_similarity": 0.7,
        },
    },
    {"NAME": "educompte.core.validators.ContainsNameValidator"},
]

# A cache shared by the app processes (import progress). Files under var/ serve one host;
# several hosts share Redis through EDUCOMPTE_REDIS_URL (Django's own Redis backend).
if os.environ.get("EDUCOMPTE_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["EDUCOMPTE_REDIS_URL"],
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

SESSION_ENGINE = "educompte.core.sessions"  # database sessions (see there)
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# HTTPS deployment: secure cookies and HSTS (README, "Configuration").
HTTPS = _env_bool("EDUCOMPTE_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and _env_bool("EDUCOMPTE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
if _env_bool("EDUCOMPTE_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "educompte" / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Tests and development serve straight from the apps' static folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Mail goes to files under var/mail/ by default, so `make run` needs no mail server;
# EDUCOMPTE_EMAIL_BACKEND=smtp (with the EDUCOMPTE_SMTP_* variables) sends it for real.
_EMAIL_BACKENDS = {
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
}
EMAIL_BACKEND = _EMAIL_BACKENDS.get(
    os.environ.get("EDUCOMPTE_EMAIL_BACKEND", "file"),
    os.environ.get("EDUCOMPTE_EMAIL_BACKEND", _EMAIL_BACKENDS["file"]),
)
EMAIL_HOST = os.environ.get("EDUCOMPTE_SMTP_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EDUCOMPTE_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EDUCOMPTE_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EDUCOMPTE_SMTP_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EDUCOMPTE_SMTP_STARTTLS", False)
EMAIL_USE_SSL = _env_bool("EDUCOMPTE_SMTP_SSL", False)
EMAIL_TIMEOUT = 10
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("EDUCOMPTE_FROM_EMAIL", "educompte@localhost")

# Product settings.
EDUCOMPTE_PROVISIONAL_PASSWORD_DAYS = int(
    os.environ.get("EDUCOMPTE_PROVISIONAL_PASSWORD_DAYS", "90")
)
EDUCOMPTE_SITE_NAME = "Educompte"
# Guard rails on staff resets: a daily ceiling per agent, and an alert to the head when an
# agent resets more than this many accounts within an hour.
EDUCOMPTE_DAILY_RESET_LIMIT = int(os.environ.get("EDUCOMPTE_DAILY_RESET_LIMIT", "300"))
EDUCOMPTE_RESET_ALERT_PER_HOUR = int(os.environ.get("EDUCOMPTE_RESET_ALERT_PER_HOUR", "50"))
# Departed pupils' personal data are erased after this many days (3 months).
EDUCOMPTE_RETENTION_DAYS = int(os.environ.get("EDUCOMPTE_RETENTION_DAYS", "92"))
# The legal notice and personal-data pages name who runs this installation.
EDUCOMPTE_LEGAL_PUBLISHER = os.environ.get(
    "EDUCOMPTE_LEGAL_PUBLISHER", "Académie de démonstration — rectorat"
)
EDUCOMPTE_LEGAL_DIRECTOR = os.environ.get(
    "EDUCOMPTE_LEGAL_DIRECTOR", "Le recteur ou la rectrice de l'académie"
)
EDUCOMPTE_LEGAL_HOST = os.environ.get(
    "EDUCOMPTE_LEGAL_HOST", "Service informatique de l'académie de démonstration"
)
EDUCOMPTE_LEGAL_CONTACT = os.environ.get("EDUCOMPTE_LEGAL_CONTACT", "dpd@educompte.test")
# Web imports run in a background thread and show their progress; tests run them inline.
EDUCOMPTE_IMPORT_IN_BACKGROUND = _env_bool("EDUCOMPTE_IMPORT_IN_BACKGROUND", True)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Sign-in throttling (see educompte/accounts/throttling.py).
EDUCOMPTE_SIGNIN_DAILY_CEILING = int(os.environ.get("EDUCOMPTE_SIGNIN_DAILY_CEILING", "25"))
EDUCOMPTE_SIGNIN_ADDRESS_LIMIT = int(os.environ.get("EDUCOMPTE_SIGNIN_ADDRESS_LIMIT", "300"))
# Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or networks).
EDUCOMPTE_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("EDUCOMPTE_TRUSTED_PROXIES", "").split(",") if p.strip()
]
PASSWORD_RESET_TIMEOUT = 30 * 60  # reset links are valid 30 minutes
EDUCOMPTE_EMAIL_CONFIRM_HOURS = 48
OTP_TOTP_ISSUER = "Educompte"
OTP_STATIC_THROTTLE_FACTOR = 1
EDUCOMPTE_RECOVERY_CODES = 10
EDUCOMPTE_PAGE_SIZE = 50

# Single sign-on: Educompte is an OpenID Connect provider (django-oauth-toolkit). See
# educompte/sso/ and the README, "Single sign-on".
from educompte.sso import keys as _oidc_keys  # noqa: E402 - needs no Django

OIDC_ID_TOKEN_SECONDS = 3600
# A retired signing key stays published until the last ID token it signed has expired.
OIDC_RETIRED_KEY_SECONDS = OIDC_ID_TOKEN_SECONDS + 3600
_OIDC_KEYS = _oidc_keys.load(VAR_DIR, retention=OIDC_RETIRED_KEY_SECONDS)
# DOT's models are swappable; migrations name them through these settings.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _OIDC_KEYS.current,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": _OIDC_KEYS.inactive,
    # Empty: the issuer is the origin the request came to (discovery is at the root).
    "OIDC_ISS_ENDPOINT": os.environ.get("EDUCOMPTE_OIDC_ISSUER", "").rstrip("/"),
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_SUBJECT_TYPES_SUPPORTED": ["pairwise"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": True,
    "OAUTH2_VALIDATOR_CLASS": "educompte.sso.validators.EducompteValidator",
    "SCOPES_BACKEND_CLASS": "educompte.sso.scopes.ServiceScopes",
    "SCOPES": {
        "openid": "Identifiant propre au service",
        "profile": "Prénom et nom",
        "educompte": "Profil, établissement, classe et MEF",
        "email": "Adresse électronique confirmée",
    },
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": OIDC_ID_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 8 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REQUEST_APPROVAL_PROMPT": "auto",
    # http redirect URIs only for 127.0.0.1/localhost, and never over HTTPS deployments.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if HTTPS else ["https", "http"],
    # RFC 9700: no implicit or password grant, S256 only, tokens never in URLs, the `iss`
    # authorisation-response parameter, tokens stored hashed.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "educompte": {"level": os.environ.get("EDUCOMPTE_LOG_LEVEL", "INFO")},
        # Their debug output carries authorisation codes, verifiers and tokens.
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
        "authlib": {"level": "WARNING"},
    },
}
