from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "educompte.accounts"
    label = "accounts"
