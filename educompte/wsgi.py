import os

from django.core.wsgi import get_wsgi_application

from educompte.core.runtime import freeze_loaded_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "educompte.settings")
application = get_wsgi_application()
freeze_loaded_objects()
