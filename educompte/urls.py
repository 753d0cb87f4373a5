from django.urls import include, path
from django.views.i18n import set_language

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    # OpenID Connect provider: /.well-known/openid-configuration, /.well-known/jwks.json,
    # /oidc/... (namespace "oauth2_provider").
    path("", include("educompte.sso.urls")),
    path("demo-service/", include("educompte.demo.urls")),
    path("", include("educompte.www.urls")),
]
handler403 = "educompte.www.errors.forbidden"
handler404 = "educompte.www.errors.not_found"
handler500 = "educompte.www.errors.server_error"
