"""Settings of the vanilla Channels peer: the least a Channels app needs, no database."""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "vanilla-channels-peer")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["daphne", "channels"]
ROOT_URLCONF = "bench.peers.vanilla_channels.urls"
ASGI_APPLICATION = "bench.peers.vanilla_channels.asgi.application"
DATABASES = {}
USE_TZ = True
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING", "handlers": []}}

#: The same channel layers as Harbor's settings (project/settings.py), same capacity.
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "project.realtime.layers.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": 5.0}],
                "prefix": os.environ.get("CHANNELS_PREFIX", "vanilla-peer"),
                "capacity": 1000,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "project.realtime.layers.EmbeddedChannelLayer", "CONFIG": {"capacity": 1000}}}
