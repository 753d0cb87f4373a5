from django.urls import include, path
from django.views.i18n import set_language

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("educompte.www.urls")),
]
handler403 = "educompte.www.views.errors.forbidden"
handler404 = "educompte.www.views.errors.not_found"
handler500 = "educompte.www.views.errors.server_error"
