"""`/share/<token>`: the link a `share_link` message carries. A plain Django view because
browsers follow it with their session."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import get_object_or_404

from .access import get_workflow_access
from .models import Message

#: Shown in the browser; anything else downloads. Not SVG: it can carry scripts.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@login_required
def shared_file(request, token):
    shared = Message.objects.select_related("media_file").filter(media_file__isnull=False)
    message = get_object_or_404(shared, share_token=token)
    # 404 unless the caller may read the workflow and it is not deleted: a link leaks nothing.
    get_workflow_access(request.user, message.workflow_id)
    media = message.media_file
    response = FileResponse(
        media.file.open("rb"),
        as_attachment=media.content_type not in INLINE_TYPES,
        filename=media.original_name,
        content_type=media.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
