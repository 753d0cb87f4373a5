from django.apps import AppConfig


class WwwConfig(AppConfig):
    name = "educompte.www"
    label = "www"
