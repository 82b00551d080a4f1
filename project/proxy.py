"""The client's address behind the reverse proxy.

daphne rewrites it itself (`--proxy-headers`); gunicorn's sync workers, the scale-out HTTP tier
(docs/deploy.md), leave `REMOTE_ADDR` as the proxy's. With `TRUST_X_FORWARDED_FOR=true` this
middleware takes the address the proxy appended last to `X-Forwarded-For`: the one hop a client
cannot forge. The login lockout and the anonymous throttle both count per `REMOTE_ADDR`."""


def forwarded_for(get_response):
    def middleware(request):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            request.META["REMOTE_ADDR"] = forwarded.rsplit(",", 1)[-1].strip()
        return get_response(request)

    return middleware
