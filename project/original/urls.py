"""Every HTTP route a seed document names, one list per seed; included after Harbor's API, whose
patterns match none of them (project/urls.py)."""

from . import comments, notifications, workflows

urlpatterns = [
    *workflows.urlpatterns,  # seed 000
    *notifications.urlpatterns,  # seed 000
    *comments.urlpatterns,  # seed 002
]
