from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "educompte.registry"
    label = "registry"
