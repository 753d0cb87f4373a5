"""The demonstration data set that ``make run`` loads (idempotent).

Pupils come from SIECLE files shipped in ``data/`` and go through the registry import, as
a real school's would; agents, delegations and account states are then set up here.
"""

from __future__ import annotations

import dataclasses
import datetime
import random

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import Delegation, Right, User
from educompte.accounts.services import add_agent, default_delegation_end, delegate
from educompte.demo import siecle
from educompte.pupils import lifecycle
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.registry.parsers import SieclePupils, read_nomenclature
from educompte.registry.services import run_import
from educompte.schools.models import Establishment
from educompte.schools.services import add_establishment

DEMO_PASSWORD = "educompte-demo"  # noqa: S105 - documented demo credential
DEMO_YEAR = 2026  # school year of the shipped registry files
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

# MEF codes and labels of the national nomenclature; classes; age in September.
COLLEGE = {
    "uai": COLLEGE_UAI,
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
    "uai": LYCEE_UAI,
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
SPECS = (COLLEGE, LYCEE)


def eleves_file(uai: str):
    return siecle.DATA_DIR / f"ElevesSansAdresses-{uai}.xml"


NOMENCLATURE_FILE = siecle.DATA_DIR / "Nomenclature.xml"


class NotADemoDatabase(Exception):
    pass


@dataclasses.dataclass
class DemoSummary:
    created: bool
    zoe_identifier: str
    zoe_password: str | None


def generated_files() -> dict[str, bytes]:
    """The shipped registry files, as the generator makes them (deterministic)."""
    rng = random.Random(DEMO_YEAR)
    files = {}
    mefs: dict[str, str] = {}
    for spec in SPECS:
        pupils = siecle.pupils_for(spec, DEMO_YEAR, rng, ZOE if spec is COLLEGE else None)
        files[eleves_file(spec["uai"]).name] = siecle.eleves_xml(spec["uai"], DEMO_YEAR, pupils)
        mefs.update(spec["mefs"])
    files[NOMENCLATURE_FILE.name] = siecle.nomenclature_xml(mefs)
    return files


def write_files() -> list[str]:
    siecle.DATA_DIR.mkdir(exist_ok=True)
    names = []
    for name, content in generated_files().items():
        (siecle.DATA_DIR / name).write_bytes(content)
        names.append(name)
    return names


def _is_demo_only() -> bool:
    other_est = Establishment.objects.exclude(uai__in=[COLLEGE_UAI, LYCEE_UAI]).exists()
    other_agents = User.objects.filter(kind=User.Kind.AGENT).exclude(username__in=AGENTS).exists()
    return not other_est and not other_agents


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
        ensure_demo_service()
        return DemoSummary(False, zoe.identifier, provisional_password(zoe))
    with transaction.atomic():
        _build(stdout)
        ensure_demo_service()
    zoe = _zoe()
    return DemoSummary(True, zoe.identifier, provisional_password(zoe))


def ensure_demo_service(origins: list[str] | tuple[str, ...] = ()):
    """Register « ENT démo » (client id ``ent-demo``), the demo OpenID Connect client served
    at /demo-service/, for http://127.0.0.1:8000, http://localhost:8000 and ``origins``.
    Idempotent: later calls add missing addresses and realign its secret, nothing else."""
    from django.contrib.auth.hashers import check_password

    from educompte.demo import client as demo_client
    from educompte.sso import services as sso_services
    from educompte.sso.selectors import service_by_client_id

    wanted = [demo_client.urls_for(o) for o in (*demo_client.DEFAULT_ORIGINS, *origins)]
    callbacks = [callback for callback, _home in wanted]
    homes = [home for _callback, home in wanted]
    service = service_by_client_id(demo_client.CLIENT_ID)
    if service is None:
        return sso_services.register_service(
            demo_client.NAME,
            callbacks,
            demo_client.SCOPES,
            home_url=homes[0],
            post_logout_redirect_uris=homes,
            client_id=demo_client.CLIENT_ID,
            client_secret=demo_client.client_secret(),
            by=authz.OPERATOR,
        ).service
    missing = [u for u in callbacks if u not in service.redirect_uris]
    missing_homes = [u for u in homes if u not in service.post_logout_redirect_uris]
    if missing or missing_homes:
        sso_services.update_service(
            service,
            redirect_uris=service.redirect_uris + missing,
            post_logout_redirect_uris=service.post_logout_redirect_uris + missing_homes,
            by=authz.OPERATOR,
        )
    if not check_password(demo_client.client_secret(), service.application.client_secret):
        # SECRET_KEY changed since the registration: the demo client derives a new secret.
        application = service.application
        application.client_secret = demo_client.client_secret()
        application.save()
    return service


# A school a few weeks into the year: each state up to its bound of a random roll.
STATE_BOUNDS = (
    (AccountState.ACTIVE, 0.30),
    (AccountState.INFORMED, 0.65),
    (AccountState.NOT_INFORMED, 0.95),
    (AccountState.DEACTIVATED, 1.0),
)


def _state_for(rng: random.Random) -> str:
    roll = rng.random()
    return next(state for state, bound in STATE_BOUNDS if roll < bound)


def _build(stdout) -> None:
    today = timezone.localdate()
    establishments = {
        spec["uai"]: add_establishment(spec["uai"], spec["name"], actor=authz.OPERATOR)
        for spec in SPECS
    }
    for login, (first, last, uai, role) in AGENTS.items():
        add_agent(
            login,
            password=DEMO_PASSWORD,
            establishment=establishments.get(uai),
            role=role,
            first_name=first,
            last_name=last,
            actor=authz.OPERATOR,
        )
    delegate(
        User.objects.get(username="vie-scolaire.demo"),
        establishments[COLLEGE_UAI],
        Right.DEPANNAGE,
        end=default_delegation_end(today),
        granted_by=User.objects.get(username="principal.demo"),
    )
    labels = read_nomenclature(NOMENCLATURE_FILE)
    active_hash = make_password(DEMO_PASSWORD)  # one hash: Argon2id is deliberately slow
    rng = random.Random(7)
    for uai, est in establishments.items():
        report = run_import(authz.OPERATOR, est, SieclePupils(eleves_file(uai), labels))
        _spread_states(est, rng, active_hash, today)
        if stdout is not None:
            stdout.write(f"  {est.name}: {report.summary_line()}")


def _spread_states(est: Establishment, rng: random.Random, active_hash: str, today) -> None:
    """Accounts in every state, as in a school a few weeks into the year: the imported
    accounts ("Non activé - non informé") go through the lifecycle's transitions, in bulk."""
    accounts = list(
        StudentAccount.objects.filter(student__establishment=est)
        .select_related("user", "student")
        .order_by("student__registry_id")
    )
    by_state: dict[str, list[StudentAccount]] = {state: [] for state, _bound in STATE_BOUNDS}
    for account in accounts:
        is_zoe = (account.student.first_name, account.student.last_name) == (
            ZOE["first_name"],
            ZOE["last_name"],
        )
        by_state[AccountState.INFORMED if is_zoe else _state_for(rng)].append(account)
    lifecycle.mark_informed(by_state[AccountState.INFORMED])
    lifecycle.activate_with_hash(by_state[AccountState.ACTIVE], active_hash)
    departed = lifecycle.deactivate(by_state[AccountState.DEACTIVATED])
    for account in departed:
        account.student.left_on = today
    Student.objects.bulk_update([a.student for a in departed], ["left_on"])


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
