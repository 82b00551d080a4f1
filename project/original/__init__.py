"""The original clients of the systems Harbor replaces (the seed documents in ../shared/seeds/):
every route a seed names, with that seed's wire shapes, translated to and from Harbor's
services here and nowhere else. Harbor's own API (docs/api.md) never speaks these shapes."""
