from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "educompte.audit"
    label = "audit"
