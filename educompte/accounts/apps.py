from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "educompte.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        from educompte.accounts.signals import record_last_login

        # Django's receiver saves the whole user through Model.save (signals, field
        # collection) on every sign-in; one UPDATE of the column does the same.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(record_last_login, dispatch_uid="educompte.last_login")
