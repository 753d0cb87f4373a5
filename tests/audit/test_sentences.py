"""The journal speaks French sentences; its action filter offers only what happened."""

from __future__ import annotations

import datetime
import re

import pytest

from educompte.accounts import authz
from educompte.accounts.models import Right
from educompte.audit import selectors
from educompte.audit.models import AuditEvent
from educompte.audit.sentences import _SENTENCES, sentences
from educompte.audit.services import record
from tests.factories import AgentFactory, make_pupil

pytestmark = pytest.mark.django_db
A = AuditEvent.Action


@pytest.fixture
def claire(db):
    return AgentFactory(quick=True, username="cfabre", first_name="Claire", last_name="Fabre")


def said(event: AuditEvent) -> str:
    event = AuditEvent.objects.select_related("actor", "account__student").get(pk=event.pk)
    return sentences([event])[0]


def test_every_action_has_a_sentence():
    assert set(A.values) == set(_SENTENCES)


def test_a_delegation_reads_as_a_sentence(college, quick_head, claire):
    quick_head.first_name, quick_head.last_name = "Marc", "Durand"
    quick_head.save()
    event = record(
        A.DELEGATION_GRANTED,
        actor=quick_head,
        establishment=college,
        agent="cfabre",
        right=Right.DEPANNAGE,
        end=datetime.date(2027, 8, 31).isoformat(),
    )
    assert said(event) == (
        "Claire Fabre a reçu la délégation Dépannage des comptes élèves jusqu'au "
        "31/08/2027 (par Marc Durand)"
    )


def test_pupil_events_name_the_pupil(college, claire):
    account, _ = make_pupil(college, first_name="Zoé", last_name="Nguyen")
    event = record(A.PASSWORD_RESET, actor=claire, establishment=college, account=account)
    assert said(event) == "Claire Fabre a réinitialisé le mot de passe de Zoé Nguyen"
    event = record(
        A.ACCOUNT_DEACTIVATED, actor=claire, establishment=college, account=account, reason="Départ"
    )
    assert said(event) == "Claire Fabre a désactivé le compte de Zoé Nguyen (motif : Départ)"
    event = record(A.REQUEST_CLOSED, actor=claire, account=account, outcome="dismissed")
    assert said(event) == "Claire Fabre a classé sans suite la demande de Zoé Nguyen"


def test_an_import_agrees_its_numbers(college):
    event = record(
        A.REGISTRY_IMPORT,
        actor=authz.OPERATOR,
        establishment=college,
        source="siecle",
        created=1,
        updated=0,
        deactivated=2,
        unchanged=310,
        transfers=0,
    )
    assert said(event) == (
        "L'exploitation (ligne de commande) a importé la base élèves : 1 élève créé, "
        "0 mis à jour, 2 désactivés, 310 inchangés"
    )


def test_an_erased_pupil_is_named_by_the_identifier_kept(college, claire):
    account, _ = make_pupil(college)
    event = record(A.PASSWORD_RESET, actor=claire, establishment=college, account=account)
    identifier = account.identifier
    account.student.delete()
    assert said(event).endswith(f"le mot de passe de {identifier}")


def test_the_sentences_are_in_the_csv(college, quick_head, claire):
    record(A.OTP_RESET, actor=quick_head, establishment=college, agent="cfabre")
    events = selectors.events_of(quick_head, college, selectors.AuditFilters())
    body = selectors.export_csv(events).decode("utf-8-sig")
    assert "a réinitialisé le second facteur de Claire Fabre" in body


def test_the_action_filter_offers_what_happened_here(college, lycee, quick_head, claire):
    record(A.AUDIT_EXPORTED, actor=quick_head, establishment=college)
    record(A.SERVICE_REVOKED, actor=claire, establishment=lycee, service="ENT")
    assert selectors.actions_of(quick_head, college) == [
        (A.AUDIT_EXPORTED.value, "Export du journal")
    ]


def test_the_journal_page_shows_sentences_and_offers_present_actions(
    college, quick_head, claire, verified_client_for
):
    account, _ = make_pupil(college, first_name="Zoé", last_name="Nguyen")
    record(A.PASSWORD_RESET, actor=claire, establishment=college, account=account)
    client = verified_client_for(quick_head)
    text = client.get(f"/administration/{college.uai}/journal/").content.decode()
    assert "Claire Fabre a réinitialisé le mot de passe de Zoé Nguyen" in text
    options = re.findall(
        r'<option value="(\w*)"', text.split('name="action"')[1].split("</select>")[0]
    )
    assert options == ["", A.PASSWORD_RESET.value]
