"""Administration des comptes, the journal: filters and the CSV export."""

from __future__ import annotations

import csv
import datetime
import io
import zoneinfo

import pytest
from django.test import Client
from django.urls import reverse

from educompte.audit.models import AuditEvent
from educompte.pupils import services
from tests.factories import make_delegate, make_pupil

pytestmark = pytest.mark.django_db
UAI = "0380001V"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def url(name: str, *args, uai: str = UAI) -> str:
    return reverse(name, args=[uai, *args])


# --- Audit log -----------------------------------------------------------------------------------


@pytest.fixture
def journal(college, lycee, quick_head, quick_delegate, quick_other_head, zoe):
    """Three events of the college on three days around midnight, one of the lycée."""
    account, _pw = zoe
    hugo, _hpw = make_pupil(college, first_name="Hugo", last_name="Berthier")
    foreign, _fpw = make_pupil(lycee, first_name="Léa", last_name="Vasseur")
    services.reset_password(quick_delegate, account, ip="192.0.2.7")
    services.reset_password(quick_head, hugo)
    services.deactivate(quick_head, college, [hugo.pk], reason="Départ")
    services.reset_password(quick_other_head, foreign)
    events = {
        "zoe_reset": AuditEvent.objects.get(account=account),
        "hugo_reset": AuditEvent.objects.get(account=hugo, action="password_reset"),
        "hugo_deactivated": AuditEvent.objects.get(account=hugo, action="account_deactivated"),
        "foreign_reset": AuditEvent.objects.get(account=foreign),
    }
    when = {
        "zoe_reset": datetime.datetime(2026, 3, 10, 23, 30, tzinfo=PARIS),
        "hugo_reset": datetime.datetime(2026, 3, 11, 0, 30, tzinfo=PARIS),
        "hugo_deactivated": datetime.datetime(2026, 3, 12, 12, 0, tzinfo=PARIS),
        "foreign_reset": datetime.datetime(2026, 3, 11, 10, 0, tzinfo=PARIS),
    }
    for key, moment in when.items():
        AuditEvent.objects.filter(pk=events[key].pk).update(created_at=moment)
    return {"zoe": account, "hugo": hugo, "foreign": foreign, **events}


def shown(client: Client, **filters) -> set[int]:
    response = client.get(url("administration:journal"), filters)
    assert response.status_code == 200
    return {e.pk for e in response.context["page"].object_list}


def test_journal_filters(head_client, journal):
    ids = {k: v.pk for k, v in journal.items() if isinstance(v, AuditEvent)}
    college_events = {ids["zoe_reset"], ids["hugo_reset"], ids["hugo_deactivated"]}
    assert shown(head_client) == college_events
    assert shown(head_client, agent="vie-scolaire") == {ids["zoe_reset"]}
    assert shown(head_client, agent="principal-rapide") == {
        ids["hugo_reset"],
        ids["hugo_deactivated"],
    }
    # Pupil: name without accents or case, several words, or the identifier.
    assert shown(head_client, pupil="lefevre") == {ids["zoe_reset"]}
    assert shown(head_client, pupil="LEFÈVRE Zoé") == {ids["zoe_reset"]}
    assert shown(head_client, pupil="nguyen") == {ids["zoe_reset"]}
    assert shown(head_client, pupil=journal["hugo"].identifier) == {
        ids["hugo_reset"],
        ids["hugo_deactivated"],
    }
    assert shown(head_client, pupil="vasseur") == set()
    assert shown(head_client, action="account_deactivated") == {ids["hugo_deactivated"]}
    assert shown(head_client, action="password_reset", agent="principal") == {ids["hugo_reset"]}
    # Dates are local (Europe/Paris) days, both ends included.
    assert shown(head_client, start="2026-03-11", end="2026-03-11") == {ids["hugo_reset"]}
    assert shown(head_client, start="11/03/2026") == {ids["hugo_reset"], ids["hugo_deactivated"]}
    assert shown(head_client, end="2026-03-10") == {ids["zoe_reset"]}


def read_csv(response) -> tuple[str, list[list[str]]]:
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
    text = body[3:].decode("utf-8")
    return text, list(csv.reader(io.StringIO(text), delimiter=";"))


HEADER = "Date;Heure;Agent;Action;Élève;Identifiant;Adresse IP;Détails;Événement"


def test_journal_csv_export(head_client, quick_head, college, journal):
    export = url("administration:journal_csv")
    assert head_client.get(export).status_code == 405
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORTED).exists()

    response = head_client.post(export, {"pupil": "lefèvre"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="journal-{UAI}-')
    text, rows = read_csv(response)
    assert text.splitlines()[0] == HEADER
    assert [row[:8] for row in rows[1:]] == [
        [
            "10/03/2026",
            "23:30:00",
            "vie-scolaire-rapide",
            "Réinitialisation du mot de passe",
            "Zoé N'Guyen-Lefèvre",
            journal["zoe"].identifier,
            "192.0.2.7",
            "",
        ]
    ]
    # The last column tells it as a sentence (the agent's name, then what was done).
    [sentence] = [row[8] for row in rows[1:]]
    assert sentence.endswith(" a réinitialisé le mot de passe de Zoé N'Guyen-Lefèvre")
    event = AuditEvent.objects.get(action=AuditEvent.Action.AUDIT_EXPORTED)
    assert (event.actor, event.establishment) == (quick_head, college)

    # Other filters, and never another establishment's events.
    _text, rows = read_csv(head_client.post(export, {"agent": "principal-rapide"}))
    assert [(r[3], r[5]) for r in rows[1:] if r[3] != "Export du journal"] == [
        ("Désactivation du compte", journal["hugo"].identifier),
        ("Réinitialisation du mot de passe", journal["hugo"].identifier),
    ]
    assert "reason=Départ" in [r[7] for r in rows[1:]]
    _text, rows = read_csv(head_client.post(export, {"start": "2026-03-11", "end": "2026-03-11"}))
    assert [r[:2] for r in rows[1:]] == [["11/03/2026", "00:30:00"]]
    text, rows = read_csv(head_client.post(export, {}))
    assert len(rows) == 1 + 3 + 3  # the three events and the three exports so far
    assert journal["foreign"].identifier not in text
    assert "Vasseur" not in text


def test_journal_csv_neutralises_formulas_and_holds_no_password(
    head_client, quick_head, college, zoe
):
    account, first_password = zoe
    evil, evil_password = make_pupil(
        college, first_name='=HYPERLINK("http://x.test")', last_name="A"
    )
    sneaky = make_delegate(college, username="+SUM(1;2)", quick=True)
    passwords = {first_password, evil_password}
    passwords.add(services.reset_password(sneaky, evil))
    passwords.add(services.reset_password(quick_head, account))
    services.force_password_change(quick_head, college, whole_establishment=True)
    for a in (account, evil):
        a.refresh_from_db()
        passwords.add(services.provisional_password(a))
    services.deactivate(quick_head, college, [evil.pk], reason="=1+1")

    text, rows = read_csv(head_client.post(url("administration:journal_csv"), {}))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], "formula left in a cell"
    assert "'" + '=HYPERLINK("http://x.test") A' in cells
    assert "'+SUM(1;2)" in cells
    assert "reason==1+1" in cells
    for password in passwords:
        assert password not in text
    journal_page = head_client.get(url("administration:journal")).content.decode()
    for password in passwords:
        assert password not in journal_page


def test_the_lycee_head_cannot_export_the_colleges_journal(
    journal, quick_other_head, verified_client_for
):
    client = verified_client_for(quick_other_head)
    response = client.post(url("administration:journal_csv"), {})
    assert response.status_code == 403
    assert journal["zoe"].identifier.encode() not in response.content
    assert client.get(url("administration:journal")).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORTED).exists()


def test_an_invalid_filter_does_not_widen_the_export(head_client, journal):
    # A mistyped date must not drop the other filters: exporting "vie-scolaire's actions"
    # must not hand out every pupil's entries of the journal.
    response = head_client.post(
        url("administration:journal_csv"), {"agent": "vie-scolaire", "start": "31/02/2026"}
    )
    if response.status_code == 200:
        _text, rows = read_csv(response)
        agents = {r[2] for r in rows[1:]}
        assert agents <= {"vie-scolaire-rapide"}, f"export widened to {agents}"
    else:
        # Refused: back to the journal with the form's error, and no file handed out.
        assert response.status_code in (302, 400)
        assert not response.get("Content-Type", "").startswith("text/csv")
        if response.status_code == 302:
            assert response["Location"].startswith(url("administration:journal"))
