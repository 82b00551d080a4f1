import itertools

from channels.layers import get_channel_layer
from django.http import HttpResponse

from .consumers import GROUP

_cursor = itertools.count(1)


async def post(request):
    """`GET /post?content=…`: a `message.created` frame shaped like Harbor's, to the group."""
    cursor = next(_cursor)
    frame = {
        "type": "message.created",
        "group": GROUP,
        "cursor": cursor,
        "data": {"message": {"id": cursor, "content": request.GET.get("content", "")}},
    }
    await get_channel_layer().group_send(GROUP, {"type": "chat.message", "frame": frame})
    return HttpResponse("ok\n", status=201)


async def health(request):
    return HttpResponse("ok\n")
