"""Every HTTP route a seed document names, one list per seed; included before Harbor's own."""

from . import comments

urlpatterns = [
    *comments.urlpatterns,  # seed 002
]
