from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "educompte.demo"
    label = "demo"
