"""The staff portal's index."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
UAI = "0380001V"


def test_portal_lists_administration_only_to_those_who_hold_it(
    client_for, quick_delegate, quick_head, quick_agent
):
    body = client_for(quick_delegate).get(reverse("portal:index")).content.decode()
    assert "Dépannage des comptes élèves" in body
    assert "Administration des comptes" not in body
    assert f"/administration/{UAI}/" not in body
    body = client_for(quick_agent).get(reverse("portal:index")).content.decode()
    assert "Administration des comptes" not in body
    assert "Dépannage des comptes élèves" not in body
    # Control: the head sees the tile (the code is asked when it is opened).
    body = client_for(quick_head).get(reverse("portal:index")).content.decode()
    assert "Administration des comptes" in body
    assert f'href="/administration/{UAI}/eleves/"' in body
