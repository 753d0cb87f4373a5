from __future__ import annotations

import pytest
from django.utils import timezone

from educompte.pupils.models import AccountState, StudentAccount
from educompte.schools.models import school_year_of
from tests.factories import (
    AGENT_PASSWORD,
    AgentFactory,
    DivisionFactory,
    EstablishmentFactory,
    MefFactory,
    make_delegate,
    make_head,
    make_pupil,
)
from tests.helpers import signed_in_client, verified_client


@pytest.fixture
def college(db):
    return EstablishmentFactory(uai="0380001V", name="Collège Jean Moulin")


@pytest.fixture
def lycee(db):
    return EstablishmentFactory(uai="0380002W", name="Lycée Marie Curie")


@pytest.fixture
def head(college):
    return make_head(college, username="principal")


@pytest.fixture
def delegate(college):
    return make_delegate(college, username="vie-scolaire")


@pytest.fixture
def other_head(lycee):
    return make_head(lycee, username="principal2")


@pytest.fixture
def zoe(college):
    return make_pupil(college)


@pytest.fixture
def client_for():
    return signed_in_client


@pytest.fixture
def agent_password() -> str:
    return AGENT_PASSWORD


# Agents signed in with ``force_login`` only: no Argon2 hash is computed for them.


@pytest.fixture
def quick_head(college):
    return make_head(college, username="principal-rapide", quick=True)


@pytest.fixture
def quick_delegate(college):
    return make_delegate(college, username="vie-scolaire-rapide", quick=True)


@pytest.fixture
def quick_other_head(lycee):
    return make_head(lycee, username="principal2-rapide", quick=True)


@pytest.fixture
def quick_agent(db):
    """An agent with no headship and no delegation anywhere."""
    return AgentFactory(username="agent-sans-droit", quick=True)


# --- Second factor: sessions verified the way django_otp.login leaves them -------------


@pytest.fixture
def verified_client_for():
    return verified_client


@pytest.fixture
def academy_admin(db):
    return AgentFactory(username="admin-academique", is_academy_admin=True, quick=True)


# --- Mail kept in memory (django.core.mail.outbox) -------------------------------------


@pytest.fixture
def locmem_mail(settings):
    """Mail goes to ``django.core.mail.outbox`` (emptied first), also from the live server."""
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    if not hasattr(mail, "outbox"):
        mail.outbox = []
    mail.outbox.clear()
    return mail.outbox


# --- Pupils in classes and MEFs: the search, its filters and the Dépannage page ----------


@pytest.fixture
def classes(college):
    mef3 = MefFactory(code="10310019110", label="3EME")
    mef4 = MefFactory(code="10210001110", label="4EME")
    d3a = DivisionFactory(establishment=college, code="3A")
    d3b = DivisionFactory(establishment=college, code="3B")
    d4b = DivisionFactory(establishment=college, code="4B")
    pupils = {
        "zoe": make_pupil(college, division=d3a, mef=mef3),
        "leo": make_pupil(
            college,
            first_name="Léo",
            last_name="Martin",
            division=d3a,
            mef=mef3,
            state=AccountState.NOT_INFORMED,
        ),
        "ines": make_pupil(
            college,
            first_name="Inès",
            last_name="Lefebvre",
            division=d3b,
            mef=mef3,
            state=AccountState.DEACTIVATED,
        ),
        "hugo": make_pupil(
            college,
            first_name="Hugo",
            last_name="Berthier",
            division=d4b,
            mef=mef4,
            state=AccountState.ACTIVE,
        ),
    }
    StudentAccount.objects.filter(pk=pupils["hugo"][0].pk).update(email="hugo@example.org")
    return {"mef3": mef3, "mef4": mef4, "3A": d3a, "3B": d3b, "4B": d4b, "pupils": pupils}


@pytest.fixture
def spread(college, lycee):
    """MEFs and classes in both establishments, some of them without pupils."""
    # Created out of order (and 3B in last year's classes) so that neither the ids nor an
    # index give the lists their order.
    m4 = MefFactory(label="4EME")
    m3 = MefFactory(label="3EME")
    m2 = MefFactory(label="2NDE")  # lycée only
    m6 = MefFactory(label="6EME")  # nobody
    last_year = school_year_of(timezone.localdate()) - 1
    d3b = DivisionFactory(establishment=college, code="3B", school_year=last_year)
    d3a = DivisionFactory(establishment=college, code="3A")
    d10 = DivisionFactory(establishment=college, code="10A")
    empty = DivisionFactory(establishment=college, code="4Z")  # no pupil
    d2a = DivisionFactory(establishment=lycee, code="2A")
    p = {
        "zoe": make_pupil(college, division=d3b, mef=m4),
        "leo": make_pupil(
            college,
            first_name="Léo",
            last_name="Martin",
            division=d3a,
            mef=m3,
            state=AccountState.NOT_INFORMED,
        ),
        "ines": make_pupil(
            college,
            first_name="Inès",
            last_name="Lefebvre",
            division=d3a,
            mef=m3,
            state=AccountState.ACTIVE,
        ),
        "noa": make_pupil(
            college,
            first_name="Noa",
            last_name="Abadie",
            division=d10,
            state=AccountState.DEACTIVATED,
        ),
        "sam": make_pupil(college, first_name="Sam", last_name="Zidane"),  # no class, no MEF
        "lou": make_pupil(lycee, first_name="Lou", last_name="Martin", division=d2a, mef=m2),
    }
    return {
        "mefs": {"3": m3, "4": m4, "2": m2, "6": m6},
        "divisions": {"3A": d3a, "3B": d3b, "10A": d10, "4Z": empty, "2A": d2a},
        "pupils": {k: a for k, (a, _p) in p.items()},
    }
