"""Every HTTP route a seed document names, one list per seed; included before Harbor's own."""

from . import comments, notifications, workflows

urlpatterns = [
    *workflows.urlpatterns,  # seed 000
    *notifications.urlpatterns,  # seed 000
    *comments.urlpatterns,  # seed 002
]
