"""What a service learns about a pupil, scope by scope (minimal by default).

| scope     | claims                                                                    |
|-----------|---------------------------------------------------------------------------|
| openid    | sub — pairwise: stable for a pupil at one service, different at another   |
| profile   | given_name, family_name                                                   |
| educompte | educompte_profile (eleve1d / eleve2d), educompte_uai, educompte_class,    |
|           | educompte_mef (the MEF label, e.g. 3EME)                                  |
| email     | email, email_verified — only once the pupil has confirmed the address     |
"""

from __future__ import annotations

from educompte.pupils.models import StudentAccount
from educompte.sso import selectors

CLAIM_SCOPE = {
    "sub": "openid",
    "given_name": "profile",
    "family_name": "profile",
    "educompte_profile": "educompte",
    "educompte_uai": "educompte",
    "educompte_class": "educompte",
    "educompte_mef": "educompte",
    "email": "email",
    "email_verified": "email",
}
# Levels of the écoles (premier degré). SIECLE, the registry Educompte imports, covers the
# collèges and lycées (second degré); a primary pupil can only come from a CSV import whose
# MEF label names one of these levels.
PRIMARY_LEVELS = frozenset({"TPS", "PS", "MS", "GS", "CP", "CE1", "CE2", "CM1", "CM2"})


def profile_type(mef_label: str | None) -> str:
    """``eleve1d`` when the MEF label starts with a primary-school level (CP, CM2 A…),
    else ``eleve2d`` (collège, lycée, or no MEF known)."""
    words = (mef_label or "").upper().replace("-", " ").replace("_", " ").split()
    return "eleve1d" if words and words[0] in PRIMARY_LEVELS else "eleve2d"


def _account(user) -> StudentAccount | None:
    return (
        StudentAccount.objects.select_related(
            "student", "student__establishment", "student__division", "student__mef"
        )
        .filter(user=user)
        .first()
    )


def claims_for(user, application, scopes) -> dict:
    """The claims released to ``application`` for ``scopes`` (already limited to the
    service's registration). Empty values are left out rather than sent as null."""
    scopes = set(scopes)
    claims: dict = {}
    if "openid" in scopes:
        claims["sub"] = selectors.subject_for(user, application)
    if not scopes & {"profile", "educompte", "email"}:
        return claims
    account = _account(user)
    if account is None:
        return claims
    student = account.student
    if "profile" in scopes:
        claims["given_name"] = student.first_name
        claims["family_name"] = student.last_name
    if "educompte" in scopes:
        mef = student.mef.label if student.mef else ""
        claims["educompte_profile"] = profile_type(mef)
        claims["educompte_uai"] = student.establishment.uai
        if student.division:
            claims["educompte_class"] = student.division.code
        if mef:
            claims["educompte_mef"] = mef
    if "email" in scopes and account.email and account.email_confirmed:
        claims["email"] = account.email
        claims["email_verified"] = True
    return {k: v for k, v in claims.items() if v not in ("", None)}
