"""factory-boy factories for the domain models."""

from __future__ import annotations

import datetime

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from educompte.accounts.models import Assignment, Delegation, Right, User
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import create_student_with_account
from educompte.schools.models import Division, Establishment, Mef, school_year_of
from educompte.schools.uai import check_letter

AGENT_PASSWORD = "correct-horse-battery"


class EstablishmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Establishment
        django_get_or_create = ("uai",)

    uai = factory.Sequence(lambda n: f"{1000000 + n:07d}{check_letter(f'{1000000 + n:07d}')}")
    name = factory.Sequence(lambda n: f"Collège n°{n}")


class MefFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mef
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{10310019110 + n}")
    label = factory.Sequence(lambda n: f"MEF{n}")


class DivisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Division
        django_get_or_create = ("establishment", "school_year", "code")

    establishment = factory.SubFactory(EstablishmentFactory)
    code = factory.Sequence(lambda n: f"3{chr(65 + n % 26)}{n // 26 or ''}")
    school_year = factory.LazyFunction(lambda: school_year_of(timezone.localdate()))


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"agent{n}")
    kind = User.Kind.AGENT
    first_name = "Agent"
    last_name = factory.Sequence(lambda n: f"Numéro{n}")
    password = factory.django.Password(AGENT_PASSWORD)

    class Params:
        # Argon2id costs tens of milliseconds per hash: agents signed in with
        # ``Client.force_login`` take ``quick=True``, an unusable password never hashed.
        quick = factory.Trait(password=factory.LazyFunction(lambda: make_password(None)))


def make_head(establishment: Establishment, *, quick: bool = False, **kwargs) -> User:
    agent = AgentFactory(quick=quick, **kwargs)
    Assignment.objects.create(agent=agent, establishment=establishment, role=Assignment.Role.HEAD)
    return agent


def make_delegate(
    establishment: Establishment,
    right: str = Right.DEPANNAGE,
    *,
    start=None,
    end=None,
    quick: bool = False,
    **kwargs,
) -> User:
    agent = AgentFactory(quick=quick, **kwargs)
    Delegation.objects.create(
        agent=agent,
        establishment=establishment,
        right=right,
        start=start or timezone.localdate(),
        end=end or timezone.localdate() + datetime.timedelta(days=30),
    )
    return agent


def make_pupil(
    establishment: Establishment | None = None,
    *,
    first_name: str = "Zoé",
    last_name: str = "N'Guyen-Lefèvre",
    birth_date: datetime.date = datetime.date(2011, 3, 14),
    division: Division | None = None,
    mef: Mef | None = None,
    state: str = AccountState.INFORMED,
) -> tuple[StudentAccount, str]:
    """A pupil with an account; returns it with its provisional password."""
    establishment = establishment or EstablishmentFactory()
    account, password = create_student_with_account(
        establishment,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        division=division,
        mef=mef,
    )
    account.state = state
    account.save(update_fields=["state"])
    return account, password
