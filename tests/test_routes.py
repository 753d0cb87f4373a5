"""Every route of the project, requested by every kind of visitor.

``ACCESS`` is the access table of the whole site. The resolver is walked (namespaced
includes too): a route without a rule here, or a rule for a route that is gone, fails.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from educompte.accounts import authz
from educompte.accounts.models import Assignment, Delegation, StaffAlert, ThrottleCounter, User
from educompte.audit.models import AuditEvent
from educompte.pupils.models import AccountState, StudentAccount, SupportRequest
from educompte.registry.models import ImportJob, TransferRequest
from educompte.schools.models import Establishment
from educompte.sso.services import register_service
from tests.factories import (
    AgentFactory,
    EstablishmentFactory,
    make_delegate,
    make_head,
    make_pupil,
)
from tests.helpers import new_client

pytestmark = pytest.mark.django_db

COLLEGE_UAI = "0380001V"
STAFF_SIGN_IN = "/portail/connexion/"
PUPIL_SIGN_IN = "/connexion/"
PORTAL = "/portail/"
OTP_ENROL = "/portail/second-facteur/enrolement/"
OTP_VERIFY = "/portail/second-facteur/"
DEPANNAGE_PUPILS = f"/depannage/{COLLEGE_UAI}/eleves/"
ADMIN_PUPILS = f"/administration/{COLLEGE_UAI}/eleves/"

ANONYMOUS = "anonymous"
PUPIL = "pupil"
NO_RIGHT = "agent_without_right"
OTHER_HEAD = "head_of_lycee"
DELEGATE = "delegated_agent"  # dépannage on the college
HEAD = "head_of_college"  # signed in, second factor not verified in this session
HEAD_2FA = "head_of_college_2fa"  # signed in and second factor verified
ACADEMY = "academy_admin_2fa"  # academy administrator, second factor verified
VISITORS = (ANONYMOUS, PUPIL, NO_RIGHT, OTHER_HEAD, DELEGATE, HEAD, HEAD_2FA, ACADEMY)
# Visitors allowed to see the college's pupils.
COLLEGE_STAFF = (DELEGATE, HEAD, HEAD_2FA)


@dataclasses.dataclass(frozen=True)
class Redirect:
    """A 302 to exactly this path (any query string); ``{name}`` stands for a path value."""

    path: str

    def __str__(self) -> str:
        return f"302 -> {self.path}"


@dataclasses.dataclass(frozen=True)
class AnyOf:
    """Several acceptable outcomes (e.g. where the fix of a bug may go either way)."""

    outcomes: tuple

    def __str__(self) -> str:
        return " or ".join(map(str, self.outcomes))


def same_for_all(outcome) -> dict:
    return dict.fromkeys(VISITORS, outcome)


def agents_only(**outcomes) -> dict:
    """``agent_required`` views: anonymous to the staff sign-in, pupils refused."""
    rule = {ANONYMOUS: Redirect(STAFF_SIGN_IN), PUPIL: 403}
    rule.update({v: outcomes.get(v, outcomes.get("default")) for v in VISITORS[2:]})
    return rule


def depannage_console(granted) -> dict:
    """Dépannage on the college: the delegated agent and the head (no second factor)."""
    return agents_only(default=403, **{DELEGATE: granted, HEAD: granted, HEAD_2FA: granted})


def administration_console(granted, head_without_2fa=Redirect(OTP_ENROL)) -> dict:
    """Administration on the college: its head only, once the second factor is verified."""
    return agents_only(default=403, **{HEAD: head_without_2fa, HEAD_2FA: granted})


def academy_console(granted) -> dict:
    return agents_only(default=403, **{ACADEMY: granted})


# route name -> what a GET returns to each kind of visitor.
ACCESS: dict[str, dict] = {
    # Django's view only changes the language on POST; a GET just goes back home.
    "set_language": same_for_all(Redirect("/")),
    "home": same_for_all(200),
    # The footer's pages: public.
    "accessibility": same_for_all(200),
    "legal_notice": same_for_all(200),
    "personal_data": same_for_all(200),
    "pupil:login": same_for_all(200),
    # Without a pending activation in the session, everybody is sent to sign in first.
    "pupil:activate": same_for_all(Redirect(PUPIL_SIGN_IN)),
    "pupil:logout": same_for_all(405),
    "pupil:services": {**same_for_all(Redirect(PUPIL_SIGN_IN)), PUPIL: 200},
    "pupil:account": {**same_for_all(Redirect(PUPIL_SIGN_IN)), PUPIL: 200},
    "pupil:forgot": same_for_all(200),
    "pupil:ask_school": same_for_all(200),
    # The token moves from the URL into the session, then the page reloads without it.
    "pupil:reset_link": same_for_all(Redirect("/connexion/reinitialiser/{uidb64}/{reset_slug}/")),
    "pupil:confirm_email": same_for_all(200),  # GET shows a button; only the POST confirms
    "portal:index": agents_only(default=200),
    "portal:login": same_for_all(200),
    "portal:logout": same_for_all(405),
    "portal:dismiss_alert": same_for_all(405),
    "portal:account": agents_only(default=200),
    "portal:forgot": same_for_all(200),
    # Invitation and recovery links: the token moves into the session, as for pupils.
    "portal:invitation": same_for_all(Redirect("/portail/invitation/mot-de-passe/")),
    "portal:recovery_link": same_for_all(
        Redirect("/portail/mot-de-passe-oublie/{uidb64}/mot-de-passe/")
    ),
    "depannage:home": depannage_console(Redirect(DEPANNAGE_PUPILS)),
    "depannage:pupils": depannage_console(200),
    "depannage:reset": depannage_console(200),  # GET: the confirmation page
    "depannage:bulk_reset": same_for_all(405),
    "depannage:bulk_result": depannage_console(404),  # token "x" is no batch of this session
    "depannage:unlock": same_for_all(405),
    "depannage:requests": depannage_console(200),
    "depannage:handle_request": same_for_all(405),
    "administration:home": administration_console(
        Redirect(ADMIN_PUPILS),
        head_without_2fa=AnyOf((Redirect(ADMIN_PUPILS), Redirect(OTP_ENROL))),
    ),
    "administration:pupils": administration_console(200),
    "administration:account_action": same_for_all(405),
    "administration:forced_change": same_for_all(405),
    "administration:forced_result": administration_console(404),
    "administration:delegations": administration_console(200),
    "administration:revoke_delegation": same_for_all(405),
    "administration:staff": administration_console(200),
    "administration:resend_invitation": same_for_all(405),
    "administration:journal": administration_console(200),
    "administration:activation": administration_console(200),
    "administration:letters": administration_console(200),
    "administration:import": administration_console(200),
    "administration:import_job": administration_console(200),
    "administration:import_confirm": same_for_all(405),
    "administration:journal_csv": same_for_all(405),
    "administration:transfers": administration_console(200),
    "administration:transfer_decide": same_for_all(405),
    # No device yet: the code page sends to enrolment, and enrolment to the code page
    # once a device exists.
    "otp:verify": agents_only(default=Redirect(OTP_ENROL), **{HEAD_2FA: 200, ACADEMY: 200}),
    "otp:enrol": agents_only(
        default=200, **{HEAD_2FA: Redirect(OTP_VERIFY), ACADEMY: Redirect(OTP_VERIFY)}
    ),
    "otp:recovery_codes": agents_only(default=Redirect(PORTAL)),  # nothing to show
    "academy:index": academy_console(200),
    "academy:establishment": academy_console(200),
    "academy:agents": academy_console(200),
    "academy:reset_otp": same_for_all(405),
    "academy:services": academy_console(200),
    "academy:service": academy_console(200),
    # --- OpenID Connect provider (django-oauth-toolkit) and the demo service ---
    "oauth2_provider:oidc-connect-discovery-info": same_for_all(200),
    "oauth2_provider:jwks-info": same_for_all(200),
    # Without a valid client the request is refused at once (the sign-in page is never a
    # trampoline for anonymous visitors); signed-in people who may not authorise (agents, a
    # pupil whose account is not activated) are refused too.
    "oauth2_provider:authorize": {**same_for_all(403), ANONYMOUS: 400},
    "oauth2_provider:token": same_for_all(405),
    "oauth2_provider:user-info": same_for_all(401),  # a session cookie is no bearer token
    "oauth2_provider:rp-initiated-logout": same_for_all(200),  # GET only asks to confirm
    "demo_service:home": same_for_all(200),
    "demo_service:login": same_for_all(405),
    "demo_service:callback": same_for_all(400),  # no sign-in was started from here
    "demo_service:logout": same_for_all(405),
}

# What a POST (empty form, CSRF check off) returns on the POST-only routes: refusing GET
# must not open the route to anybody on POST.
POST_ACCESS: dict[str, dict] = {
    "pupil:logout": same_for_all(Redirect(PUPIL_SIGN_IN)),
    "portal:logout": same_for_all(Redirect(STAFF_SIGN_IN)),
    "portal:dismiss_alert": agents_only(
        default=403, **{HEAD: Redirect(PORTAL), HEAD_2FA: Redirect(PORTAL)}
    ),
    "depannage:bulk_reset": depannage_console(Redirect(DEPANNAGE_PUPILS)),
    "depannage:unlock": depannage_console(Redirect(DEPANNAGE_PUPILS)),
    # The request is handled: the pupil's password is reset, back to the requests tab.
    "depannage:handle_request": depannage_console(Redirect(f"/depannage/{COLLEGE_UAI}/demandes/")),
    "administration:account_action": administration_console(Redirect(ADMIN_PUPILS)),
    "administration:forced_change": administration_console(Redirect(ADMIN_PUPILS)),
    "administration:revoke_delegation": administration_console(
        Redirect(f"/administration/{COLLEGE_UAI}/delegations/")
    ),
    "administration:journal_csv": administration_console(200),
    # Nobody to invite again in the empty form: back to the list.
    "administration:resend_invitation": administration_console(
        Redirect(f"/administration/{COLLEGE_UAI}/personnels/")
    ),
    # The job is finished: confirming again changes nothing and shows the job.
    "administration:import_confirm": administration_console(
        Redirect(f"/administration/{COLLEGE_UAI}/import/{{job_id}}/")
    ),
    # No decision in the empty form: nothing decided, back to the list.
    "administration:transfer_decide": administration_console(
        Redirect(f"/administration/{COLLEGE_UAI}/transferts/")
    ),
    "academy:reset_otp": academy_console(Redirect("/academie/agents/")),
    "oauth2_provider:token": same_for_all(400),  # no grant, no client: an OAuth error
    "demo_service:login": same_for_all(400),  # the demo service is not registered here
    "demo_service:logout": same_for_all(Redirect("/demo-service/")),
}


def walk(patterns, namespace: str | None = None, params: tuple[str, ...] = ()):
    """Yield (full route name, path parameter names, view) for every pattern, recursively."""
    for entry in patterns:
        converters = tuple(getattr(entry.pattern, "converters", {}) or {})
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk(entry.url_patterns, ns, params + converters)
        elif isinstance(entry, URLPattern):
            if not entry.name:
                yield f"<unnamed route {entry.pattern}>", params + converters, entry.callback
                continue
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, params + converters, entry.callback


_WALK = list(walk(get_resolver().url_patterns))
ROUTES = {name: params for name, params, _view in _WALK}
VIEWS = {name: view for name, _params, view in _WALK}


def test_the_resolver_walk_finds_namespaced_routes():
    # Guards the walk itself: if it stopped descending into includes, the table check
    # below would pass vacuously.
    assert {"home", "pupil:login", "portal:index", "depannage:reset"} <= ROUTES.keys()
    assert set(ROUTES["depannage:reset"]) == {"uai", "account_id"}
    assert set(ROUTES["depannage:bulk_result"]) == {"uai", "token"}


def test_every_route_has_an_access_rule_and_every_rule_a_route():
    missing = sorted(ROUTES.keys() - ACCESS.keys())
    stale = sorted(ACCESS.keys() - ROUTES.keys())
    assert not missing, f"routes without an access rule in ACCESS: {missing}"
    assert not stale, f"ACCESS rules for routes that no longer exist: {stale}"
    for name, rule in ACCESS.items():
        assert set(rule) == set(VISITORS), f"{name}: the rule must cover every visitor"


def test_post_only_routes_have_a_post_rule():
    post_only = {name for name, rule in ACCESS.items() if set(rule.values()) == {405}}
    assert post_only == set(POST_ACCESS)


@dataclasses.dataclass
class World:
    target: StudentAccount
    target_password: str
    values: dict
    users: dict[str, User | None]
    sessions: dict[str, str]

    def url(self, name: str) -> str:
        params = ROUTES[name]
        unknown = set(params) - self.values.keys()
        assert not unknown, f"{name}: no test value for path parameters {unknown}"
        return reverse(name, kwargs={p: self.values[p] for p in params})

    def client(self, visitor: str, *, enforce_csrf_checks: bool = False) -> Client:
        """A fresh client carrying the visitor's session cookie (the session itself was
        made once for the module; each test's changes to it are rolled back)."""
        client = new_client(enforce_csrf_checks=enforce_csrf_checks)
        if self.sessions.get(visitor):
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[visitor]
        return client


def _session_of(user: User | None, *, second_factor: bool) -> str:
    if user is None:
        return ""
    client = new_client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    if second_factor:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return session.session_key


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The same establishments, people and sessions for every test of the module, built
    once inside a transaction rolled back at the end (each test runs in a savepoint)."""
    with django_db_blocker.unblock(), transaction.atomic():
        college = EstablishmentFactory(uai=COLLEGE_UAI, name="Collège Jean Moulin")
        lycee = EstablishmentFactory(uai="0380002W", name="Lycée Marie Curie")
        account, password = make_pupil(college)
        classmate, _pw = make_pupil(college, first_name="Hugo", last_name="Berthier")
        delegate = make_delegate(college, username="vie-scolaire-rapide", quick=True)
        no_right = AgentFactory(username="agent-sans-droit", quick=True)
        users = {
            ANONYMOUS: None,
            PUPIL: classmate.user,
            NO_RIGHT: no_right,
            OTHER_HEAD: make_head(lycee, username="principal2-rapide", quick=True),
            DELEGATE: delegate,
            HEAD: make_head(college, username="principal-rapide", quick=True),
            HEAD_2FA: make_head(college, username="principal-verifie", quick=True),
            ACADEMY: AgentFactory(username="rectorat", is_academy_admin=True, quick=True),
        }
        alert = StaffAlert.objects.create(
            establishment=college, agent=delegate, kind="resets", message="Beaucoup."
        )
        job = ImportJob.objects.create(
            establishment=college, filename="eleves.xml", status=ImportJob.Status.DONE
        )
        support = SupportRequest.objects.create(account=account, establishment=college)
        transfer = TransferRequest.objects.create(
            student=account.student, from_establishment=college, to_establishment=lycee
        )
        service = register_service(
            "ENT", ["https://ent.example/cb"], "openid", by=authz.OPERATOR
        ).service
        service = register_service(
            "ENT du collège", "https://ent.example/callback", ["openid"], by=users[ACADEMY]
        ).service
        yield World(
            target=account,
            target_password=password,
            values={
                "uai": COLLEGE_UAI,
                "account_id": account.pk,
                "token": "x",
                "alert_id": alert.pk,
                "delegation_id": Delegation.objects.get(agent=delegate).pk,
                "agent_id": no_right.pk,
                "job_id": job.pk,
                "request_id": support.pk,
                "transfer_id": transfer.pk,
                "service_id": service.pk,
                "uidb64": urlsafe_base64_encode(force_bytes(account.user_id)),
                "reset_slug": "nouveau-mot-de-passe",
            },
            users=users,
            sessions={
                v: _session_of(u, second_factor=v in (HEAD_2FA, ACADEMY)) for v, u in users.items()
            },
        )
        transaction.set_rollback(True)


_WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z0-9_]+)"?', re.I)
# Tables a GET may write: the session (messages, "next"), and the pending TOTP device that
# the enrolment page creates to show its QR code.
GET_MAY_WRITE = {"django_session", "otp_totp_totpdevice"}


def _writes(queries) -> set[str]:
    """Tables written by the captured SQL statements."""
    tables = set()
    for query in queries:
        match = _WRITE.match(query["sql"])
        if match:
            tables.add(match.group(2))
    return tables


def _state() -> tuple:
    """What a refused request must never change."""
    accounts = [
        (*row[:2], bytes(row[2] or b""), *row[3:])
        for row in StudentAccount.objects.order_by("pk").values_list(
            "pk",
            "state",
            "provisional_password_encrypted",
            "provisional_issued_at",
            "user__password",
        )
    ]
    delegations = list(Delegation.objects.order_by("pk").values_list("pk", "end", "revoked_at"))
    alerts = list(StaffAlert.objects.order_by("pk").values_list("pk", "dismissed_at"))
    establishments = list(
        Establishment.objects.order_by("pk").values_list("pk", "uai", "name", "closed_at")
    )
    heads = list(Assignment.objects.order_by("pk").values_list("pk", "agent", "role", "end"))
    requests = list(SupportRequest.objects.order_by("pk").values_list("pk", "status"))
    throttles = list(ThrottleCounter.objects.order_by("pk").values_list("key", "count"))
    return (
        accounts,
        delegations,
        alerts,
        establishments,
        heads,
        requests,
        throttles,
        AuditEvent.objects.count(),
    )


def _matches(response, expected, values: dict) -> bool:
    if isinstance(expected, AnyOf):
        return any(_matches(response, e, values) for e in expected.outcomes)
    if isinstance(expected, Redirect):
        if response.status_code != 302:
            return False
        location = urlsplit(response["Location"])
        return not location.netloc and location.path == expected.path.format(**values)
    return response.status_code == expected


def _check(response, expected, where: str, values: dict) -> None:
    got = response.status_code
    if got in (301, 302):
        got = f"{got} -> {response['Location']}"
    assert _matches(response, expected, values), f"{where}: got {got}, want {expected}"
    if response.status_code == 302:
        location = urlsplit(response["Location"])
        nxt = parse_qs(location.query).get("next", [""])[0]
        assert not nxt or nxt.startswith("/"), f"{where}: next={nxt!r}"


def _no_pupil_data(world: World, body: str, where: str) -> None:
    assert world.target.identifier not in body, f"{where}: shows the pupil's identifier"
    assert world.target_password not in body, f"{where}: shows the provisional password"
    assert "Guyen-Lef" not in body, f"{where}: shows the pupil's name"


CASES = [(name, visitor) for name in sorted(ROUTES.keys() | ACCESS.keys()) for visitor in VISITORS]


@pytest.mark.parametrize(("name", "visitor"), CASES)
def test_get_route_as_visitor(world, name, visitor):
    assert name in ACCESS, f"route {name} has no access rule"
    assert name in ROUTES, f"rule {name} names a route that no longer exists"
    url = world.url(name)
    client = world.client(visitor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    _check(response, ACCESS[name][visitor], f"GET {url} as {visitor}", world.values)
    written = _writes(queries.captured_queries) - GET_MAY_WRITE
    assert not written, f"GET {url} as {visitor} wrote to {sorted(written)}"
    if visitor not in COLLEGE_STAFF:
        _no_pupil_data(world, response.content.decode(), f"GET {url} as {visitor}")


@pytest.mark.parametrize(("name", "visitor"), [(n, v) for n in POST_ACCESS for v in VISITORS])
def test_post_only_route_as_visitor(world, name, visitor):
    url = world.url(name)
    before = _state()
    response = world.client(visitor).post(url, {})
    expected = POST_ACCESS[name][visitor]
    _check(response, expected, f"POST {url} as {visitor}", world.values)
    if expected == 403 or (isinstance(expected, Redirect) and expected.path == STAFF_SIGN_IN):
        assert _state() == before, f"refused POST {url} as {visitor} changed data"
    if visitor not in COLLEGE_STAFF:
        _no_pupil_data(world, response.content.decode(), f"POST {url} as {visitor}")


def test_staff_sign_in_redirect_keeps_the_requested_page(world):
    url = world.url("depannage:pupils")
    response = world.client(ANONYMOUS).get(url)
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [url]


def test_unknown_establishment_is_404_for_agents_and_hidden_from_anonymous(world):
    url = reverse("depannage:pupils", args=["0389999Z"])
    assert world.client(HEAD).get(url).status_code == 404
    anonymous = world.client(ANONYMOUS).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(STAFF_SIGN_IN)


def test_foreign_account_id_is_404_for_the_head(world):
    lycee = Establishment.objects.get(uai="0380002W")
    foreign, _pw = make_pupil(lycee, first_name="Léa", last_name="Vasseur")
    url = reverse("depannage:reset", args=[COLLEGE_UAI, foreign.pk])
    response = world.client(HEAD).get(url)
    assert response.status_code == 404
    assert foreign.identifier not in response.content.decode()


# --- GET never changes state; POST needs the CSRF token ---------------------------------


def test_get_on_pupil_logout_does_not_sign_out(world):
    pupil = world.client(PUPIL)
    assert pupil.get(reverse("pupil:logout")).status_code == 405
    assert pupil.get(reverse("pupil:services")).status_code == 200


def test_get_on_portal_logout_does_not_sign_out(world):
    head = world.client(HEAD)
    assert head.get(reverse("portal:logout")).status_code == 405
    assert head.get(reverse("portal:index")).status_code == 200


def test_get_on_bulk_reset_with_a_confirmed_selection_resets_nothing(world):
    before = _state()
    url = world.url("depannage:bulk_reset")
    response = world.client(HEAD).get(url, {"comptes": [world.target.pk], "confirm": "1"})
    assert response.status_code == 405
    assert _state() == before


def test_get_on_set_language_does_not_switch_language(world):
    client = world.client(ANONYMOUS)
    response = client.get(reverse("set_language"), {"language": "en"})
    assert response.status_code == 302
    assert "django_language" not in response.cookies
    assert client.get("/")["Content-Language"] == "fr"


# Who posts to each route in the CSRF test: somebody who would otherwise get through.
CSRF_POSTER = {"academy": ACADEMY, "administration": HEAD_2FA, "pupil": PUPIL}
CSRF_FORMS = {
    "set_language": {"language": "en", "next": "/"},
    "pupil:login": {"username": "x", "password": "y"},
    "portal:login": {"username": "x", "password": "y"},
    "depannage:bulk_reset": {"comptes": ["TARGET"], "confirm": "1"},
    "administration:account_action": {
        "comptes": ["TARGET"],
        "confirm": "1",
        "action": "deactivate",
        "reason": "test",
    },
    "administration:forced_change": {"scope": "establishment", "confirm": "1"},
    "academy:index": {"uai": "0380003X", "name": "Nouveau"},
    "academy:establishment": {"what": "close"},
}


# Endpoints for other programs, authenticated by the client's secret or a bearer token,
# never by the session cookie: CSRF does not apply (django-oauth-toolkit exempts them).
CSRF_EXEMPT = {"oauth2_provider:token": 400, "oauth2_provider:user-info": 401}


def test_only_the_api_endpoints_skip_the_csrf_check():
    exempt = {name for name, view in VIEWS.items() if getattr(view, "csrf_exempt", False)}
    assert exempt == set(CSRF_EXEMPT)


@pytest.mark.parametrize("name", sorted(CSRF_EXEMPT))
def test_api_endpoints_ignore_the_session_cookie(world, name):
    """Without the CSRF check, a session alone must still get nothing from them."""
    for visitor in (PUPIL, HEAD_2FA, ACADEMY):
        response = world.client(visitor, enforce_csrf_checks=True).post(world.url(name), {})
        assert response.status_code == CSRF_EXEMPT[name], (name, visitor)
        _no_pupil_data(world, response.content.decode(), f"POST {name} as {visitor}")


@pytest.mark.parametrize("name", sorted(ROUTES.keys() - CSRF_EXEMPT.keys()))
def test_post_without_csrf_token_is_refused(world, name):
    visitor = CSRF_POSTER.get(name.split(":")[0], HEAD_2FA)
    client = world.client(visitor, enforce_csrf_checks=True)
    data = {
        k: [str(world.target.pk)] if v == ["TARGET"] else v
        for k, v in CSRF_FORMS.get(name, {}).items()
    }
    before = _state()
    response = client.post(world.url(name), data)
    assert response.status_code == 403, f"POST {name} without CSRF token: {response.status_code}"
    assert "django_language" not in response.cookies
    assert _state() == before
    if name == "pupil:logout":
        assert client.get(reverse("pupil:services")).status_code == 200  # still signed in
    if name == "portal:logout":
        assert client.get(reverse("portal:index")).status_code == 200  # still signed in


def test_post_with_csrf_token_goes_through(world):
    """Control for the test above: the same kind of POST with the token does reset."""
    client = world.client(HEAD, enforce_csrf_checks=True)
    url = world.url("depannage:reset")
    account = StudentAccount.objects.get(pk=world.target.pk)
    before = bytes(account.provisional_password_encrypted)
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 302
    # Also checks the write detector the GET test relies on.
    assert {"pupils_studentaccount", "audit_auditevent"} <= _writes(queries.captured_queries)
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED
    assert bytes(account.provisional_password_encrypted) != before
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PASSWORD_RESET).count() == 1
