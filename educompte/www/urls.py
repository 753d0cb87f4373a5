from django.urls import include, path
from django.views.generic import RedirectView

from educompte.www.views import depannage, home, portal, pupil

pupil_patterns = (
    [
        path("connexion/", pupil.sign_in, name="login"),
        path("connexion/activation/", pupil.activate, name="activate"),
        path("deconnexion/", pupil.sign_out, name="logout"),
        path("mes-services/", pupil.my_services, name="services"),
    ],
    "pupil",
)

portal_patterns = (
    [
        path("", portal.index, name="index"),
        path("connexion/", portal.sign_in, name="login"),
        path("deconnexion/", portal.sign_out, name="logout"),
    ],
    "portal",
)

depannage_patterns = (
    [
        path("", RedirectView.as_view(pattern_name="depannage:pupils"), name="home"),
        path("eleves/", depannage.pupils, name="pupils"),
        path("eleves/<int:account_id>/reinitialiser/", depannage.reset, name="reset"),
        path("eleves/reinitialiser-selection/", depannage.bulk_reset, name="bulk_reset"),
        path("eleves/resultat/<str:token>/", depannage.bulk_result, name="bulk_result"),
    ],
    "depannage",
)

urlpatterns = [
    path("", home.home, name="home"),
    path("", include(pupil_patterns)),
    path("portail/", include(portal_patterns)),
    path("depannage/<str:uai>/", include(depannage_patterns)),
]
