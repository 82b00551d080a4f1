"""Settings are read from the environment once; these run `manage.py` with chosen variables."""

import json

import pytest
from django.db import connection

from ..conftest import run_manage

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-with-more-than-fifty-characters-0123456789",
    "ALLOWED_HOSTS": "harbor.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://harbor.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "FIELD_ENCRYPTION_KEYS": "duH9uC5YyogiIeh6-2ZrwKiAgJWpGguWW76P7FKNDHg=",
}

SHOW = (
    "from django.conf import settings as s; import json; print(json.dumps({"
    "'layer': s.CHANNEL_LAYERS['default']['BACKEND'], 'cache': s.CACHES['default']['BACKEND'],"
    "'cache_location': s.CACHES['default'].get('LOCATION', ''), 'db': s.DATABASES['default']['ENGINE'],"
    "'db_options': s.DATABASES['default'].get('OPTIONS', {}), 'conn_max_age': s.DATABASES['default']['CONN_MAX_AGE']}))"
)


def show_settings(**env):
    result = run_manage("shell", "--no-imports", "-c", SHOW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_mode_uses_sqlite_memory_layer_and_local_cache(tmp_path):
    shown = show_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}", REDIS_URL="")
    assert shown["layer"] == "project.realtime.layers.EmbeddedChannelLayer"  # an InMemoryChannelLayer
    assert shown["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert shown["db_options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in shown["db_options"]["init_command"]
    assert shown["conn_max_age"] == 600  # a SQLite connection is a file handle: kept


def test_scale_out_mode_uses_redis_and_a_pooled_postgres():
    shown = show_settings(DATABASE_URL="postgres://harbor@127.0.0.1:5432/harbor", REDIS_URL="redis://127.0.0.1:6379/0")
    assert shown["layer"] == "project.realtime.layers.RedisChannelLayer"  # channels-redis, 2 s pops
    assert shown["cache"] == "project.cache.FailOpenRedisCache"
    assert shown["cache_location"] == "redis://127.0.0.1:6379/1"
    assert shown["conn_max_age"] == 0
    assert shown["db_options"]["pool"]["max_size"] >= 1


def test_a_secret_key_is_required_unless_debug():
    result = run_manage("check", SECRET_KEY="", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert run_manage("check", SECRET_KEY="", DEBUG="true").returncode == 0


@pytest.mark.django_db
def test_production_settings_pass_the_deploy_check():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_the_deploy_check_catches_a_weak_setup():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **{**PRODUCTION, "SECURE_HSTS_SECONDS": "0"})
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_logs_are_json_lines_on_stderr_apart_from_a_commands_output():
    code = "import logging; logging.getLogger('harbor.test').warning('hello', extra={'workflow': 'abc'}); print('output')"
    result = run_manage("shell", "--no-imports", "-c", code, LOG_LEVEL="INFO")
    assert result.stdout == "output\n"
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["workflow"] == "abc"
    assert line["level"] == "WARNING"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="application_name is PostgreSQL's")
def test_each_process_names_itself_to_postgresql():
    """pg_stat_activity tells an operator which process holds a connection."""
    sql = "from django.db import connection; c = connection.cursor(); c.execute('SHOW application_name'); print(c.fetchone()[0])"
    assert run_manage("shell", "-c", sql).stdout.strip().splitlines()[-1] == "harbor shell"
    named = run_manage("shell", "-c", sql, DATABASE_APPLICATION_NAME="harbor bot-7")
    assert named.stdout.strip().splitlines()[-1] == "harbor bot-7"


EMAIL_SHOW = (
    "from django.conf import settings as s; import json; print(json.dumps({k: getattr(s, k) for k in ("
    "'EMAIL_BACKEND', 'EMAIL_DELIVERY_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', "
    "'EMAIL_HOST_PASSWORD', 'EMAIL_USE_TLS', 'EMAIL_USE_SSL', 'DEFAULT_FROM_EMAIL', 'EMAIL_MESSAGE_ID_DOMAIN')}))"
)


def test_email_is_configured_by_one_url_and_always_goes_through_the_outbox():
    def shown(**env):
        result = run_manage("shell", "--no-imports", "-c", EMAIL_SHOW, **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    tls = shown(EMAIL_URL="smtp+tls://mailer:s%40cret@mail.example.com:587", DEFAULT_FROM_EMAIL="Acme <team@acme.test>")
    assert tls["EMAIL_BACKEND"] == "project.mail.backends.OutboxBackend"
    assert tls["EMAIL_DELIVERY_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (tls["EMAIL_HOST"], tls["EMAIL_PORT"], tls["EMAIL_HOST_USER"], tls["EMAIL_HOST_PASSWORD"]) == (
        "mail.example.com", 587, "mailer", "s@cret"
    )
    assert tls["EMAIL_USE_TLS"] is True and tls["EMAIL_USE_SSL"] is False
    assert tls["EMAIL_MESSAGE_ID_DOMAIN"] == "acme.test"
    ssl = shown(EMAIL_URL="smtp+ssl://mail.example.com:465")
    assert ssl["EMAIL_USE_SSL"] is True and ssl["EMAIL_USE_TLS"] is False
    development = shown(EMAIL_URL="", DEBUG="true")
    assert development["EMAIL_DELIVERY_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
