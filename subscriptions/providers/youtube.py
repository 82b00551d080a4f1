"""YouTube Data API v3: a channel's uploads and playlists' items."""

from django.conf import settings

from .base import FetchResult, Item, Provider, ProviderError, parse_date, register


@register
class YouTube(Provider):
    name = "youtube"
    label = "YouTube"
    kinds = ("youtube_channel", "youtube_playlist")
    console = "https://console.cloud.google.com/apis/credentials"
    token_endpoint_auth_method = "client_secret_post"
    #: Google issues a refresh token only for offline access, and again only with consent.
    authorize_params = {"access_type": "offline", "prompt": "consent"}

    def fetch_profile(self, client, access_token):
        data, _ = self.get_json(client, "/youtube/v3/channels", access_token, params={"part": "snippet", "mine": "true"})
        channels = data.get("items") or []
        if not channels:
            raise ProviderError("youtube: this Google account has no channel", permanent=True)
        return str(channels[0]["id"]), channels[0].get("snippet", {}).get("title") or str(channels[0]["id"])

    def fetch(self, client, subscription, access_token):
        if subscription.kind == "youtube_channel":
            # A channel's uploads are the playlist "UU" + the channel id after its "UC": one call
            # instead of a channels.list lookup first (and one quota unit instead of two).
            if not subscription.external_id.startswith("UC"):
                raise ProviderError("youtube: a channel id starts with UC", permanent=True)
            playlist_id = "UU" + subscription.external_id[2:]
        elif subscription.kind == "youtube_playlist":
            playlist_id = subscription.external_id
        else:
            raise ProviderError(f"youtube cannot poll {subscription.kind}", permanent=True)
        params = {"part": "snippet", "playlistId": playlist_id, "maxResults": min(50, settings.SUBSCRIPTIONS_PAGE_SIZE)}
        data, etag = self.get_json(client, "/youtube/v3/playlistItems", access_token, params=params,
                                   etag=subscription.etag)
        if data is None:
            return FetchResult([], subscription.cursor, etag, not_modified=True)
        items = []
        newest = subscription.cursor
        for entry in data.get("items", []):
            snippet = entry.get("snippet") or {}
            video_id = (snippet.get("resourceId") or {}).get("videoId")
            published = snippet.get("publishedAt") or ""
            if not video_id or published < subscription.cursor:
                continue
            newest = max(newest, published)
            items.append(Item(
                external_id=video_id,
                title=snippet.get("title", ""),
                url=f"https://www.youtube.com/watch?v={video_id}",
                published_at=parse_date(published),
                raw=entry,
            ))
        return FetchResult(items, newest, etag or data.get("etag", ""))
