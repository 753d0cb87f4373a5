from django.urls import include, path

from educompte.www import pages
from educompte.www.academy import views as academy
from educompte.www.administration import (
    activation,
    delegations,
    imports,
    journal,
    letters,
    staff,
    transfers,
)
from educompte.www.administration import pupils as admin_pupils
from educompte.www.depannage import views as depannage
from educompte.www.portal import second_factor, staff_account
from educompte.www.portal import views as portal
from educompte.www.pupil import account as pupil_account
from educompte.www.pupil import views as pupil

pupil_patterns = (
    [
        path("connexion/", pupil.sign_in, name="login"),
        path("connexion/activation/", pupil.activate, name="activate"),
        path("deconnexion/", pupil.sign_out, name="logout"),
        path("mes-services/", pupil.my_services, name="services"),
        path("mon-compte/", pupil_account.my_account, name="account"),
        path("connexion/mot-de-passe-oublie/", pupil_account.forgot, name="forgot"),
        path("connexion/demande-etablissement/", pupil_account.ask_school, name="ask_school"),
        path(
            "connexion/reinitialiser/<str:uidb64>/<str:token>/",
            pupil_account.reset_link,
            name="reset_link",
        ),
        path(
            "mon-compte/confirmer-adresse/<str:token>/",
            pupil_account.confirm_email,
            name="confirm_email",
        ),
    ],
    "pupil",
)

portal_patterns = (
    [
        path("", portal.index, name="index"),
        path("connexion/", portal.sign_in, name="login"),
        path("deconnexion/", portal.sign_out, name="logout"),
        path("alertes/<int:alert_id>/lue/", portal.dismiss_alert, name="dismiss_alert"),
        path("mon-compte/", staff_account.my_account, name="account"),
        path("invitation/<str:token>/", staff_account.invitation, name="invitation"),
        path("mot-de-passe-oublie/", staff_account.forgot, name="forgot"),
        path(
            "mot-de-passe-oublie/<str:uidb64>/<str:token>/",
            staff_account.recovery_link,
            name="recovery_link",
        ),
    ],
    "portal",
)

depannage_patterns = (
    [
        path("", depannage.home, name="home"),
        path("eleves/", depannage.pupils, name="pupils"),
        path("eleves/<int:account_id>/reinitialiser/", depannage.reset, name="reset"),
        path("eleves/reinitialiser-selection/", depannage.bulk_reset, name="bulk_reset"),
        path("eleves/resultat/<str:token>/", depannage.bulk_result, name="bulk_result"),
        path("eleves/<int:account_id>/debloquer/", depannage.unlock, name="unlock"),
        path("demandes/", depannage.requests_list, name="requests"),
        path("demandes/<int:request_id>/traiter/", depannage.handle_request, name="handle_request"),
    ],
    "depannage",
)

administration_patterns = (
    [
        path("", admin_pupils.home, name="home"),
        path("eleves/", admin_pupils.pupils, name="pupils"),
        path("eleves/action/", admin_pupils.account_action, name="account_action"),
        path("eleves/changement-impose/", admin_pupils.forced_change, name="forced_change"),
        path(
            "eleves/changement-impose/<str:token>/",
            admin_pupils.forced_result,
            name="forced_result",
        ),
        path("activation/", activation.activation, name="activation"),
        path("courriers/", letters.letters_page, name="letters"),
        path("import/", imports.upload, name="import"),
        path("import/<uuid:job_id>/", imports.job_detail, name="import_job"),
        path("import/<uuid:job_id>/confirmer/", imports.job_confirm, name="import_confirm"),
        path("transferts/", transfers.transfer_list, name="transfers"),
        path(
            "transferts/<int:transfer_id>/decider/",
            transfers.decide,
            name="transfer_decide",
        ),
        path("personnels/", staff.staff_list, name="staff"),
        path("personnels/invitation/", staff.resend_invitation, name="resend_invitation"),
        path("delegations/", delegations.delegations, name="delegations"),
        path(
            "delegations/<int:delegation_id>/revoquer/",
            delegations.revoke_delegation,
            name="revoke_delegation",
        ),
        path("journal/", journal.journal, name="journal"),
        path("journal/export/", journal.journal_csv, name="journal_csv"),
    ],
    "administration",
)

security_patterns = (
    [
        path("", second_factor.verify, name="verify"),
        path("enrolement/", second_factor.enrol, name="enrol"),
        path("codes-de-secours/", second_factor.recovery_codes, name="recovery_codes"),
    ],
    "otp",
)

academy_patterns = (
    [
        path("", academy.index, name="index"),
        path("etablissements/<str:uai>/", academy.establishment, name="establishment"),
        path("agents/", academy.agents, name="agents"),
        path(
            "agents/<int:agent_id>/second-facteur/reinitialiser/",
            academy.reset_otp,
            name="reset_otp",
        ),
        path("services/", academy.services, name="services"),
        path("services/<int:service_id>/", academy.service, name="service"),
    ],
    "academy",
)

urlpatterns = [
    path("", portal.home, name="home"),
    path("accessibilite/", pages.accessibility, name="accessibility"),
    path("mentions-legales/", pages.legal_notice, name="legal_notice"),
    path("donnees-personnelles/", pages.personal_data, name="personal_data"),
    path("", include(pupil_patterns)),
    path("portail/", include(portal_patterns)),
    path("depannage/<str:uai>/", include(depannage_patterns)),
    path("administration/<str:uai>/", include(administration_patterns)),
    path("portail/second-facteur/", include(security_patterns)),
    path("academie/", include(academy_patterns)),
]
