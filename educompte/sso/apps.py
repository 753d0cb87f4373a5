from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "educompte.sso"
    label = "sso"
    verbose_name = "Single sign-on (OpenID Connect provider)"

    def ready(self) -> None:
        from educompte.sso import receivers  # noqa: F401 - connects the signal receivers
