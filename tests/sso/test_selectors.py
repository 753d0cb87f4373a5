"""educompte.sso.selectors."""

from __future__ import annotations

import pytest

from educompte.sso import selectors

pytestmark = pytest.mark.django_db


# --- Fixtures ---------------------------------------------------------------------------


def test_selectors_subject_for_is_stable(registered, pupil):
    app = registered.service.application
    assert selectors.subject_for(pupil.user, app) == selectors.subject_for(pupil.user, app)
