from django.apps import AppConfig


class PupilsConfig(AppConfig):
    name = "educompte.pupils"
    label = "pupils"
