"""Routes of « ENT démo », the demo service (namespace ``demo_service``, under
/demo-service/)."""

from django.urls import path

from educompte.demo import client

app_name = "demo_service"

urlpatterns = [
    path("", client.home, name="home"),
    path("connexion/", client.login, name="login"),
    path("callback/", client.callback, name="callback"),
    path("deconnexion/", client.logout, name="logout"),
]
