"""The provider registry: one module per provider, each registering a `Provider` subclass.
Adding a provider is a new module here, its import below, and its settings block."""

from . import spotify, youtube  # noqa: E402,F401,I001  (register themselves)
from .base import FetchResult, Item, Provider, ProviderError, get_provider, providers, register

__all__ = ["FetchResult", "Item", "Provider", "ProviderError", "get_provider", "providers", "register"]
