"""WSGI entry point for the scale-out topology's HTTP workers (docs/deploy.md): gunicorn serves
pages and the REST API with sync workers, while daphne (project.asgi) serves the WebSockets.

    gunicorn -w 4 -b 127.0.0.1:8001 project.wsgi:application
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()
