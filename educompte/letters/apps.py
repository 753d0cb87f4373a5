from django.apps import AppConfig


class LettersConfig(AppConfig):
    name = "educompte.letters"
    label = "letters"
    verbose_name = "Courriers d'identifiants"
