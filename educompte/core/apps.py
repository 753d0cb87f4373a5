from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "educompte.core"
    label = "core"
