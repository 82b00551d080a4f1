from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def stream_page(request):
    return render(request, "queue_app/stream.html", {})
