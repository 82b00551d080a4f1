from .services import unread_count


def unread_notifications(request):
    """The bell's count in the navigation of every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(user)}
