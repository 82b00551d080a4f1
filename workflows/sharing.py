"""`/share/<token>`: the link a `share_link` message carries. A plain Django view because
browsers follow it with their session."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from .access import get_workflow_access
from .models import Message

#: Shown in the browser; anything else downloads. Not SVG: it can carry scripts.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _shared_media(request, token):
    shared = Message.objects.select_related("media_file").filter(media_file__isnull=False)
    message = get_object_or_404(shared, share_token=token)
    # 404 unless the caller may read the workflow and it is not deleted: a link leaks nothing.
    get_workflow_access(request.user, message.workflow_id)
    return message.media_file


@login_required
def shared_thumbnail(request, token):
    """The WebP preview of a shared image, for the same people as the image."""
    media = _shared_media(request, token)
    if not media.thumbnail:
        raise Http404
    response = FileResponse(media.thumbnail.open("rb"), content_type="image/webp")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
def shared_file(request, token):
    media = _shared_media(request, token)
    response = FileResponse(
        media.file.open("rb"),
        as_attachment=media.content_type not in INLINE_TYPES,
        filename=media.original_name,
        content_type=media.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
