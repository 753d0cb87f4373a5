"""Routes of the OpenID Connect provider.

The provider's routes live in DOT's ``oauth2_provider`` namespace, which DOT reverses to
build discovery. Discovery sits at the site root, so the issuer is the site's origin.
"""

from django.urls import path, re_path

from educompte.sso import views

app_name = "oauth2_provider"

urlpatterns = [
    re_path(
        r"^\.well-known/openid-configuration$",
        views.DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", views.JwksView.as_view(), name="jwks-info"),
    path("oidc/authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("oidc/token/", views.TokenView.as_view(), name="token"),
    path("oidc/userinfo/", views.UserInfoView.as_view(), name="user-info"),
    path("oidc/logout/", views.LogoutView.as_view(), name="rp-initiated-logout"),
]
