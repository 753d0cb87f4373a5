"""The demonstration data set that ``make run`` loads (idempotent)."""

from __future__ import annotations

import dataclasses
import datetime
import random

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from educompte.accounts.models import Delegation, Right, User
from educompte.accounts.services import add_agent, default_delegation_end, delegate
from educompte.demo.names import FIRST_NAMES, LAST_NAMES
from educompte.pupils.models import AccountState, StudentAccount
from educompte.pupils.services import create_student_with_account
from educompte.schools.models import Division, Establishment, Mef, school_year_of
from educompte.schools.services import add_establishment

DEMO_PASSWORD = "educompte-demo"  # noqa: S105 - documented demo credential
COLLEGE_UAI, LYCEE_UAI = "0380001V", "0380002W"
AGENTS = {
    "principal.demo": ("Anne", "Morand", COLLEGE_UAI, "head"),
    "principal2.demo": ("Bruno", "Delorme", LYCEE_UAI, "head"),
    "vie-scolaire.demo": ("Claire", "Fabre", COLLEGE_UAI, "staff"),
    "academie.demo": ("Denise", "Roche", None, "academy"),
}
ZOE = {
    "first_name": "Zoé",
    "last_name": "N'Guyen-Lefèvre",
    "birth_date": datetime.date(2011, 3, 14),
}

# MEF codes and labels of the national nomenclature; divisions; birth year offset from the
# school year (a 6e pupil is 11 in September).
COLLEGE = {
    "name": "Collège Jean Moulin (démo)",
    "mefs": {
        "10010012110": "6EME",
        "10110001110": "5EME",
        "10210001110": "4EME",
        "10310019110": "3EME",
    },
    "levels": [
        ("6", "10010012110", 11),
        ("5", "10110001110", 12),
        ("4", "10210001110", 13),
        ("3", "10310019110", 14),
    ],
    "letters": "ABC",
}
LYCEE = {
    "name": "Lycée Marie Curie (démo)",
    "mefs": {
        "20010018110": "2NDE GENERALE ET TECHNO",
        "20111010110": "1ERE GENERALE",
        "20212001110": "TERMINALE GENERALE",
        "21133102110": "1ERE STMG",
    },
    "levels": [
        ("2", "20010018110", 15),
        ("1G", "20111010110", 16),
        ("1STMG", "21133102110", 16),
        ("T", "20212001110", 17),
    ],
    "letters": "ABC",
}
PUPILS_PER_CLASS = 36


class NotADemoDatabase(Exception):
    pass


@dataclasses.dataclass
class DemoSummary:
    created: bool
    zoe_identifier: str
    zoe_password: str | None


def _is_demo_only() -> bool:
    other_est = Establishment.objects.exclude(uai__in=[COLLEGE_UAI, LYCEE_UAI]).exists()
    other_agents = User.objects.filter(kind=User.Kind.AGENT).exclude(username__in=AGENTS).exists()
    return not other_est and not other_agents


def _state_for(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.30:
        return AccountState.ACTIVE
    if roll < 0.65:
        return AccountState.INFORMED
    if roll < 0.95:
        return AccountState.NOT_INFORMED
    return AccountState.DEACTIVATED


def _zoe() -> StudentAccount | None:
    return (
        StudentAccount.objects.select_related("user")
        .filter(
            student__establishment__uai=COLLEGE_UAI,
            student__first_name=ZOE["first_name"],
            student__last_name=ZOE["last_name"],
        )
        .first()
    )


def load_demo(stdout=None) -> DemoSummary:
    """Create the demo once; later calls change nothing. Refuses a non-demo database."""
    from educompte.pupils.services import provisional_password

    if not _is_demo_only():
        raise NotADemoDatabase(
            "this database holds establishments or agents that are not the demo's: "
            "the demo is only loaded into an empty database"
        )
    zoe = _zoe()
    if zoe is not None:
        return DemoSummary(False, zoe.identifier, provisional_password(zoe))
    with transaction.atomic():
        _build(random.Random(2026), stdout)
    zoe = _zoe()
    return DemoSummary(True, zoe.identifier, provisional_password(zoe))


def _build(rng: random.Random, stdout) -> None:
    today = timezone.localdate()
    year = school_year_of(today)
    college = add_establishment(COLLEGE_UAI, COLLEGE["name"])
    lycee = add_establishment(LYCEE_UAI, LYCEE["name"])
    for login, (first, last, uai, role) in AGENTS.items():
        est = {COLLEGE_UAI: college, LYCEE_UAI: lycee}.get(uai)
        add_agent(
            login,
            password=DEMO_PASSWORD,
            establishment=est,
            role=role,
            first_name=first,
            last_name=last,
        )
    vie_scolaire = User.objects.get(username="vie-scolaire.demo")
    head = User.objects.get(username="principal.demo")
    delegate(
        vie_scolaire, college, Right.DEPANNAGE, end=default_delegation_end(today), granted_by=head
    )

    # One hash for every activated demo pupil: Argon2id is deliberately slow.
    active_hash = make_password(DEMO_PASSWORD)
    for est, spec in ((college, COLLEGE), (lycee, LYCEE)):
        mefs = {
            code: Mef.objects.get_or_create(code=code, defaults={"label": label})[0]
            for code, label in spec["mefs"].items()
        }
        for level, mef_code, age in spec["levels"]:
            for letter in spec["letters"]:
                division = Division.objects.create(
                    establishment=est, code=f"{level}{letter}", school_year=year
                )
                count = PUPILS_PER_CLASS
                if est == college and division.code == "3A":
                    account, _pw = create_student_with_account(
                        est,
                        division=division,
                        mef=mefs[mef_code],
                        rng=rng,
                        ine=_ine(rng),
                        registry_id=str(rng.randrange(10**6, 10**7)),
                        **ZOE,
                    )
                    account.state = AccountState.INFORMED
                    account.save(update_fields=["state"])
                    count -= 1
                for _ in range(count):
                    birth = datetime.date(year - age, 1, 1) + datetime.timedelta(
                        days=rng.randrange(365)
                    )
                    account, _pw = create_student_with_account(
                        est,
                        last_name=rng.choice(LAST_NAMES),
                        first_name=rng.choice(FIRST_NAMES),
                        birth_date=birth,
                        division=division,
                        mef=mefs[mef_code],
                        rng=rng,
                        ine=_ine(rng),
                        registry_id=str(rng.randrange(10**6, 10**7)),
                    )
                    _set_state(account, _state_for(rng), active_hash, today)
        if stdout is not None:
            stdout.write(f"  {est.name}: {est.students.count()} pupils")


def _set_state(account: StudentAccount, state: str, active_hash: str, today) -> None:
    account.state = state
    if state == AccountState.ACTIVE:
        account.provisional_password_encrypted = None
        account.provisional_expires_at = None
        account.activated_at = timezone.now()
        account.user.password = active_hash
        account.user.save(update_fields=["password"])
    elif state == AccountState.DEACTIVATED:
        account.student.left_on = today
        account.student.save(update_fields=["left_on", "search_name"])
        account.provisional_password_encrypted = None
    account.save()


def _ine(rng: random.Random) -> str:
    # INE-RNIE shape: 10 digits and a letter (the checksum is not computed for demo data).
    return f"{rng.randrange(10**9, 10**10)}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"


def demo_agents() -> list[tuple[str, str]]:
    rows = []
    for login, (_first, _last, uai, role) in AGENTS.items():
        if role == "head":
            rows.append((login, f"chef d'établissement de {uai}"))
        elif role == "academy":
            rows.append((login, "administrateur académique"))
        else:
            rights = Delegation.objects.filter(agent__username=login).values_list(
                "right", flat=True
            )
            rows.append((login, f"{', '.join(sorted(set(rights))) or 'aucun droit'} sur {uai}"))
    return rows
