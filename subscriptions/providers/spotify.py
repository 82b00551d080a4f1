"""Spotify Web API: shows' episodes, artists' albums, playlists' tracks."""

from django.conf import settings

from .base import FetchResult, Item, Provider, ProviderError, parse_date, register


@register
class Spotify(Provider):
    name = "spotify"
    label = "Spotify"
    kinds = ("spotify_show", "spotify_artist", "spotify_playlist")
    console = "https://developer.spotify.com/dashboard"

    def fetch_profile(self, client, access_token):
        data, _ = self.get_json(client, "/v1/me", access_token)
        return str(data["id"]), data.get("display_name") or str(data["id"])

    def fetch(self, client, subscription, access_token):
        limit = settings.SUBSCRIPTIONS_PAGE_SIZE
        if subscription.kind == "spotify_playlist":
            return self._playlist(client, subscription, access_token, limit)
        if subscription.kind == "spotify_show":
            path, params = f"/v1/shows/{subscription.external_id}/episodes", {"limit": limit}
        elif subscription.kind == "spotify_artist":
            path = f"/v1/artists/{subscription.external_id}/albums"
            params = {"limit": limit, "include_groups": "album,single"}
        else:
            raise ProviderError(f"spotify cannot poll {subscription.kind}", permanent=True)
        data, etag = self.get_json(client, path, access_token, params=params, etag=subscription.etag)
        if data is None:
            return FetchResult([], subscription.cursor, etag, not_modified=True)
        # Newest first; the cursor is the newest release date seen, older items are skipped
        # before they reach the database (same-day ones are kept: the unique key dedupes them).
        items = [
            Item(
                external_id=str(entry["id"]),
                title=entry.get("name", ""),
                url=(entry.get("external_urls") or {}).get("spotify", ""),
                published_at=parse_date(entry.get("release_date")),
                raw=entry,
            )
            for entry in data.get("items", [])
            if entry and entry.get("id") and (entry.get("release_date") or "") >= subscription.cursor
        ]
        dates = [entry.get("release_date") or "" for entry in data.get("items", []) if entry]
        return FetchResult(items, max([subscription.cursor, *dates]), etag)

    def _playlist(self, client, subscription, access_token, limit):
        # Playlists grow at the end, oldest first: the cursor is the offset of the next unseen track.
        offset = int(subscription.cursor or 0)
        data, etag = self.get_json(
            client,
            f"/v1/playlists/{subscription.external_id}/tracks",
            access_token,
            params={"limit": limit, "offset": offset},
        )
        entries = [entry for entry in data.get("items", []) if entry and entry.get("track")]
        items = [
            Item(
                external_id=str(entry["track"]["id"]),
                title=entry["track"].get("name", ""),
                url=(entry["track"].get("external_urls") or {}).get("spotify", ""),
                published_at=parse_date(entry.get("added_at")),
                raw=entry,
            )
            for entry in entries
            if entry["track"].get("id")
        ]
        return FetchResult(items, str(offset + len(data.get("items", []))), etag)
