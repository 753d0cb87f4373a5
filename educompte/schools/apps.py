from django.apps import AppConfig


class SchoolsConfig(AppConfig):
    name = "educompte.schools"
    label = "schools"
