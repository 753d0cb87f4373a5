"""Dépannage, a reset without JavaScript from the search to the new password."""

import pytest
from django.urls import reverse

from educompte.pupils.models import AccountState

pytestmark = pytest.mark.django_db


def test_reset_journey_without_javascript(client_for, delegate, college, zoe):
    account, old_password = zoe
    client = client_for(delegate)
    page = client.get(reverse("depannage:pupils", args=[college.uai]), {"q": "lefevre"})
    assert page.status_code == 200
    assert (
        "N&#x27;Guyen-Lefèvre" in page.content.decode()
        or "N'Guyen-Lefèvre" in page.content.decode()
    )
    confirm = client.get(reverse("depannage:reset", args=[college.uai, account.pk]))
    assert "Êtes-vous sûr" in confirm.content.decode()
    done = client.post(reverse("depannage:reset", args=[college.uai, account.pk]), follow=True)
    body = done.content.decode()
    assert "a bien été réinitialisé" in body
    account.refresh_from_db()
    assert account.state == AccountState.INFORMED
