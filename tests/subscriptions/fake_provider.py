"""A fake OAuth authorization server + provider API (Spotify and YouTube paths) on 127.0.0.1,
speaking real HTTP, in the manner of tests/resilience/fake_server.py.

    fake.login_as("sp-alice")                  # who approves the next /authorize
    fake.add_item("spotify_show", "show1", "ep1", "2026-11-01")
    fake.script("/v1/shows", 429, headers={"Retry-After": "0"})   # next matching call only
    fake.down = True                            # every call answers 503

Authorization codes check the PKCE S256 challenge; refresh tokens rotate (an old one is
refused with invalid_grant, like providers that detect reuse)."""

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class FakeProvider:
    def __init__(self, expires_in: int = 3600):
        self.expires_in = expires_in
        self.down = False
        self.delay = 0.0  # seconds before each API answer
        self.token_delay = 0.0  # seconds before each token endpoint answer
        self.approving = "user-1"
        self.codes: dict[str, dict] = {}
        self.access: dict[str, str] = {}  # access token → account id
        self.refresh: dict[str, str] = {}  # live refresh token → account id
        self.content: dict[tuple[str, str], list[dict]] = {}
        self.scripted: list[tuple[str, int, dict, bytes]] = []
        self.calls: list[dict] = []  # every request: method, path, account, at
        self.token_requests: list[dict] = []  # bodies posted to /token (form fields)
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    # --- test controls ---------------------------------------------------------------------

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()

    def settings_for(self, *names) -> dict:
        """SUBSCRIPTION_PROVIDERS entries pointing at this server."""
        return {name: {
            "client_id": f"{name}-client", "client_secret": f"{name}-secret",
            "authorize_url": f"{self.url}/authorize", "token_url": f"{self.url}/token",
            "api_base_url": self.url, "scopes": ["read"],
        } for name in names}

    def env_for(self, name: str) -> dict:
        """The same, as environment variables for a subprocess."""
        prefix = name.upper()
        return {f"{prefix}_CLIENT_ID": f"{name}-client", f"{prefix}_CLIENT_SECRET": f"{name}-secret",
                f"{prefix}_AUTHORIZE_URL": f"{self.url}/authorize", f"{prefix}_TOKEN_URL": f"{self.url}/token",
                f"{prefix}_API_BASE_URL": self.url}

    def login_as(self, account_id: str):
        self.approving = account_id
        return self

    def add_item(self, kind: str, target: str, item_id: str, date: str, title: str = ""):
        with self._lock:
            entries = self.content.setdefault((kind, target), [])
            if kind in ("spotify_show", "spotify_artist"):
                entries.insert(0, {"id": item_id, "name": title or item_id, "release_date": date,
                                   "external_urls": {"spotify": f"https://open.spotify.com/x/{item_id}"}})
            elif kind == "spotify_playlist":
                entries.append({"added_at": date, "track": {"id": item_id, "name": title or item_id}})
            else:  # youtube playlist (a channel's uploads are playlist UU…)
                entries.insert(0, {"id": f"pi-{item_id}", "snippet": {
                    "title": title or item_id, "publishedAt": date, "resourceId": {"videoId": item_id}}})
        return self

    def script(self, path_prefix: str, status: int, *, headers=None, body: bytes = b"{}"):
        """The next request whose path starts with `path_prefix` gets this answer instead."""
        with self._lock:
            self.scripted.append((path_prefix, status, headers or {}, body))
        return self

    def expire_all_access_tokens(self):
        with self._lock:
            self.access.clear()

    def api_calls(self, prefix: str = "/v1/") -> list[dict]:
        with self._lock:
            return [c for c in self.calls if c["path"].startswith(prefix) or prefix == "*"]

    def calls_per_account(self, prefix: str) -> Counter:
        return Counter(c["account"] for c in self.api_calls(prefix))

    # --- the server ------------------------------------------------------------------------

    def _issue(self, account_id: str) -> dict:
        access, refresh = "at-" + secrets.token_urlsafe(16), "rt-" + secrets.token_urlsafe(16)
        self.access[access] = account_id
        self.refresh[refresh] = account_id
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in,
                "refresh_token": refresh, "scope": "read"}

    def _token(self, form: dict):
        grant = form.get("grant_type")
        with self._lock:
            self.token_requests.append(form)
            if grant == "authorization_code":
                code = self.codes.pop(form.get("code", ""), None)
                if code is None or code["redirect_uri"] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if digest != code["challenge"]:
                    return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
                return 200, self._issue(code["account"])
            if grant == "refresh_token":
                account = self.refresh.pop(form.get("refresh_token", ""), None)  # rotates: the old one dies
                if account is None:
                    return 400, {"error": "invalid_grant", "error_description": "refresh token revoked"}
                return 200, self._issue(account)
        return 400, {"error": "unsupported_grant_type"}

    def _api(self, path: str, query: dict, account: str, if_none_match: str):
        if path == "/v1/me":
            return 200, {"id": account, "display_name": f"Spotify {account}"}, {}
        if path == "/youtube/v3/channels":
            return 200, {"items": [{"id": account, "snippet": {"title": f"YouTube {account}"}}]}, {}
        parts = path.strip("/").split("/")
        if path.startswith("/v1/shows/") and parts[-1] == "episodes":
            key = ("spotify_show", parts[2])
        elif path.startswith("/v1/artists/") and parts[-1] == "albums":
            key = ("spotify_artist", parts[2])
        elif path.startswith("/v1/playlists/") and parts[-1] == "tracks":
            key = ("spotify_playlist", parts[2])
        elif path == "/youtube/v3/playlistItems":
            playlist = query.get("playlistId", "")
            key = ("youtube_channel", "UC" + playlist[2:]) if playlist.startswith("UU") else ("youtube_playlist", playlist)
        else:
            return 404, {"error": {"status": 404, "message": "no such endpoint"}}, {}
        with self._lock:
            entries = list(self.content.get(key, [])) if key in self.content else None
        if entries is None:
            return 404, {"error": {"status": 404, "message": "Non existing id"}}, {}
        if key[0] == "spotify_playlist":
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
            return 200, {"items": entries[offset:offset + limit], "total": len(entries)}, {}
        etag = '"' + hashlib.sha1(json.dumps(entries).encode()).hexdigest()[:16] + '"'
        if if_none_match == etag:
            return 304, None, {"ETag": etag}
        return 200, {"items": entries[: int(query.get("limit", query.get("maxResults", 50)))]}, {"ETag": etag}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status, body=None, headers=None):
                data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
                with fake._lock:
                    account = fake.access.get(token, "")
                    fake.calls.append({"method": self.command, "path": url.path, "account": account,
                                       "at": time.monotonic()})
                    scripted = next((s for s in fake.scripted if url.path.startswith(s[0])), None)
                    if scripted:
                        fake.scripted.remove(scripted)
                if fake.down:
                    return self._reply(503, b"down")
                if scripted:
                    return self._reply(scripted[1], scripted[3], scripted[2])
                if url.path == "/authorize":
                    code = secrets.token_urlsafe(12)
                    with fake._lock:
                        fake.codes[code] = {"challenge": query.get("code_challenge"), "account": fake.approving,
                                            "redirect_uri": query.get("redirect_uri")}
                    target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
                    return self._reply(302, None, {"Location": target})
                if url.path == "/token" and self.command == "POST":
                    form = {k: v[0] for k, v in parse_qs(raw).items()}
                    if fake.token_delay:
                        time.sleep(fake.token_delay)
                    status, body = fake._token(form)
                    return self._reply(status, body)
                if not account:
                    return self._reply(401, {"error": {"status": 401, "message": "Invalid access token"}})
                if fake.delay:
                    time.sleep(fake.delay)
                status, body, headers = fake._api(url.path, query, account, self.headers.get("If-None-Match", ""))
                return self._reply(status, body, headers)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        return Handler
