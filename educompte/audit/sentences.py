"""The journal in sentences (« Claire Fabre a reçu la délégation Dépannage des comptes
élèves jusqu'au 31/08/2027 »), for the Administration page and its CSV export.

Who acted and on whom come from the event (the actor's name, else the login kept in
``actor_label``; the pupil's name, else the identifier kept in ``subject_label``); the
agents named in ``details`` by login are looked up once per page."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from educompte.accounts.models import Right, User
from educompte.audit.models import AuditEvent

A = AuditEvent.Action


class _Names:
    """Who the event is about, with the names of the agents its details mention."""

    def __init__(self, event: AuditEvent, agents: dict[str, str]):
        self.event = event
        self.details = event.details or {}
        self.agents = agents

    @property
    def actor(self) -> str:
        actor = self.event.actor if self.event.actor_id else None
        if actor is not None:
            return actor.display_name
        return self.event.actor_label or _("L'exploitation (ligne de commande)")

    @property
    def pupil(self) -> str:
        account = self.event.account if self.event.account_id else None
        if account is not None:
            return account.student.full_name
        return self.event.subject_label or self.details.get("pupil", "") or _("un élève")

    @property
    def agent(self) -> str:
        login = str(self.details.get("agent", ""))
        return self.agents.get(login, login)

    def date(self, key: str) -> str:
        try:
            return datetime.date.fromisoformat(str(self.details.get(key))).strftime("%d/%m/%Y")
        except ValueError:
            return str(self.details.get(key, ""))

    def right(self) -> str:
        value = self.details.get("right", "")
        return str(Right(value).label) if value in Right.values else str(value)

    def count(self, key: str) -> int:
        try:
            return int(self.details.get(key, 0))
        except (TypeError, ValueError):
            return 0


def _import(n: _Names) -> str:
    parts = [
        ngettext("%(n)d élève créé", "%(n)d élèves créés", n.count("created")),
        ngettext("%(n)d mis à jour", "%(n)d mis à jour", n.count("updated")),
        ngettext("%(n)d désactivé", "%(n)d désactivés", n.count("deactivated")),
        ngettext("%(n)d inchangé", "%(n)d inchangés", n.count("unchanged")),
    ]
    counts = [n.count(k) for k in ("created", "updated", "deactivated", "unchanged")]
    done = ", ".join(p % {"n": c} for p, c in zip(parts, counts, strict=True))
    if n.count("transfers"):
        done += ", " + ngettext(
            "%(n)d demande de transfert", "%(n)d demandes de transfert", n.count("transfers")
        ) % {"n": n.count("transfers")}
    return _("%(actor)s a importé la base élèves : %(done)s") % {"actor": n.actor, "done": done}


def _forced(n: _Names) -> str:
    scope = n.details.get("scope")
    if scope == "establishment":
        how = _("pour tout l'établissement")
    elif scope == "division":
        how = _("pour la classe %(code)s") % {"code": n.details.get("division", "")}
    else:
        how = _("pour une sélection d'élèves")
    return _("%(actor)s a imposé un nouveau mot de passe à %(pupil)s (%(how)s)") % {
        "actor": n.actor,
        "pupil": n.pupil,
        "how": how,
    }


def _letter(n: _Names) -> str:
    text = _("%(actor)s a édité le courrier d'identifiants de %(pupil)s") % {
        "actor": n.actor,
        "pupil": n.pupil,
    }
    if n.details.get("renewed"):
        text += _(" (mot de passe provisoire expiré renouvelé)")
    return text


def _exported(n: _Names) -> str:
    count = n.count("count")
    if n.details.get("division"):
        text = ngettext(
            "%(actor)s a exporté les identifiants de %(n)d élève de la classe %(code)s",
            "%(actor)s a exporté les identifiants de %(n)d élèves de la classe %(code)s",
            count,
        )
    else:
        text = ngettext(
            "%(actor)s a exporté les identifiants de %(n)d élève",
            "%(actor)s a exporté les identifiants de %(n)d élèves",
            count,
        )
    return text % {"actor": n.actor, "n": count, "code": n.details.get("division", "")}


def _request_closed(n: _Names) -> str:
    if n.details.get("outcome") == "dismissed":
        text = _("%(actor)s a classé sans suite la demande de %(pupil)s")
    else:
        text = _("%(actor)s a traité la demande de %(pupil)s")
    return text % {"actor": n.actor, "pupil": n.pupil}


def _transfer(requested: str, received: str) -> Callable[[_Names], str]:
    """Transfer events exist twice: in the journal of the establishment that holds the
    pupil (``to_uai``: where the pupil would go) and in the requester's (``pupil``).
    The texts are marked with gettext_noop and translated here."""

    def sentence(n: _Names) -> str:
        if "to_uai" in n.details:
            return _(requested) % {
                "actor": n.actor,
                "pupil": n.pupil,
                "uai": n.details["to_uai"],
            }
        return _(received) % {"actor": n.actor, "pupil": n.pupil, "uai": ""}

    return sentence


def _arrived(n: _Names) -> str:
    if "to_uai" in n.details:
        return _("%(pupil)s, sorti de l'établissement, rejoint %(uai)s") % {
            "pupil": n.pupil,
            "uai": n.details["to_uai"],
        }
    return _("%(pupil)s rejoint l'établissement en venant de %(uai)s") % {
        "pupil": n.pupil,
        "uai": n.details.get("from_uai", ""),
    }


def _renamed(n: _Names) -> str:
    if n.details.get("reopened"):
        return _("%(actor)s a rouvert l'établissement") % {"actor": n.actor}
    return _("%(actor)s a renommé l'établissement « %(old)s » en « %(new)s »") % {
        "actor": n.actor,
        "old": n.details.get("old_name", ""),
        "new": n.details.get("new_name", ""),
    }


def _simple(text: str) -> Callable[[_Names], str]:
    def sentence(n: _Names) -> str:
        return _(text) % {
            "actor": n.actor,
            "pupil": n.pupil,
            "agent": n.agent,
            "right": n.right(),
            "end": n.date("end"),
            "reason": n.details.get("reason", ""),
            "service": n.details.get("service", ""),
            "login": n.details.get("login", ""),
            "count": n.count("count"),
        }

    return sentence


_SENTENCES: dict[str, Callable[[_Names], str]] = {
    A.PASSWORD_RESET: _simple(
        gettext_noop("%(actor)s a réinitialisé le mot de passe de %(pupil)s")
    ),
    A.ACCOUNT_ACTIVATED: _simple(gettext_noop("%(pupil)s a activé son compte")),
    A.STAFF_SIGN_IN: _simple(gettext_noop("Connexion de %(actor)s")),
    A.DELEGATION_GRANTED: _simple(
        gettext_noop("%(agent)s a reçu la délégation %(right)s jusqu'au %(end)s (par %(actor)s)")
    ),
    A.DELEGATION_REVOKED: _simple(
        gettext_noop("%(actor)s a retiré la délégation %(right)s à %(agent)s")
    ),
    A.ESTABLISHMENT_CREATED: _simple(gettext_noop("%(actor)s a créé l'établissement")),
    A.AGENT_CREATED: _simple(gettext_noop("%(actor)s a créé le compte d'agent %(login)s")),
    A.ACCOUNT_DEACTIVATED: _simple(
        gettext_noop("%(actor)s a désactivé le compte de %(pupil)s (motif : %(reason)s)")
    ),
    A.ACCOUNT_REACTIVATED: _simple(
        gettext_noop("%(actor)s a réactivé le compte de %(pupil)s (motif : %(reason)s)")
    ),
    A.ACCOUNT_UNLOCKED: _simple(gettext_noop("%(actor)s a débloqué la connexion de %(pupil)s")),
    A.FORCED_CHANGE: _forced,
    A.AUDIT_EXPORTED: _simple(gettext_noop("%(actor)s a exporté le journal")),
    A.OTP_ENROLLED: _simple(gettext_noop("%(actor)s a enregistré son second facteur")),
    A.OTP_RESET: _simple(gettext_noop("%(actor)s a réinitialisé le second facteur de %(agent)s")),
    A.ESTABLISHMENT_UPDATED: _renamed,
    A.ESTABLISHMENT_CLOSED: _simple(gettext_noop("%(actor)s a fermé l'établissement")),
    A.HEAD_APPOINTED: _simple(
        gettext_noop("%(actor)s a confié la direction de l'établissement à %(agent)s")
    ),
    A.HEAD_REMOVED: _simple(
        gettext_noop("%(actor)s a retiré à %(agent)s la direction de l'établissement")
    ),
    A.RESET_ALERT: _simple(
        gettext_noop(
            "Alerte : %(actor)s a réinitialisé %(count)d mots de passe en moins d'une heure"
        )
    ),
    A.LETTER_ISSUED: _letter,
    A.CREDENTIALS_EXPORTED: _exported,
    A.REGISTRY_IMPORT: _import,
    A.REQUEST_CREATED: _simple(
        gettext_noop("%(pupil)s a demandé un nouveau mot de passe à l'établissement")
    ),
    A.REQUEST_CLOSED: _request_closed,
    A.EMAIL_CONFIRMED: _simple(gettext_noop("%(pupil)s a confirmé son adresse électronique")),
    A.PASSWORD_CHANGED: _simple(gettext_noop("%(pupil)s a changé son mot de passe")),
    A.PASSWORD_RECOVERED: _simple(
        gettext_noop("%(pupil)s a choisi un nouveau mot de passe avec le lien reçu par courriel")
    ),
    A.SESSIONS_ENDED: _simple(gettext_noop("%(pupil)s a fermé ses autres sessions")),
    A.SERVICE_REGISTERED: _simple(gettext_noop("%(actor)s a enregistré le service %(service)s")),
    A.SERVICE_UPDATED: _simple(gettext_noop("%(actor)s a modifié le service %(service)s")),
    A.SERVICE_SECRET_REPLACED: _simple(
        gettext_noop("%(actor)s a remplacé le secret du service %(service)s")
    ),
    A.SERVICE_REVOKED: _simple(gettext_noop("%(actor)s a révoqué le service %(service)s")),
    A.TRANSFER_REQUESTED: _transfer(
        gettext_noop("%(actor)s (%(uai)s) demande le transfert de %(pupil)s"),
        gettext_noop(
            "%(actor)s a demandé le transfert de %(pupil)s, élève d'un autre établissement"
        ),
    ),
    A.TRANSFER_ACCEPTED: _transfer(
        gettext_noop("%(actor)s a accepté le transfert de %(pupil)s vers %(uai)s"),
        gettext_noop("Transfert de %(pupil)s accepté : l'élève rejoint l'établissement"),
    ),
    A.TRANSFER_REFUSED: _transfer(
        gettext_noop("%(actor)s a refusé le transfert de %(pupil)s vers %(uai)s"),
        gettext_noop("Transfert de %(pupil)s refusé par son établissement"),
    ),
    A.LEAVER_ARRIVED: _arrived,
    A.EMAIL_CHANGE_REQUESTED: _simple(
        gettext_noop("%(pupil)s a indiqué une nouvelle adresse électronique, à confirmer")
    ),
    A.EMAIL_REMOVED: _simple(gettext_noop("%(pupil)s a retiré son adresse électronique")),
    A.STAFF_PASSWORD_SET: _simple(gettext_noop("%(actor)s a choisi son mot de passe")),
}


def sentences(events: Sequence[AuditEvent]) -> list[str]:
    """One French sentence per event (translated in the active language). The events come
    with ``actor`` and ``account__student`` selected; the agents named by login in the
    details are read in one query."""
    logins = {str(e.details.get("agent")) for e in events if (e.details or {}).get("agent")}
    agents = {
        u.username: u.display_name
        for u in User.objects.filter(username__in=logins).only(
            "username", "first_name", "last_name"
        )
    }
    out = []
    for event in events:
        build = _SENTENCES.get(event.action)
        names = _Names(event, agents)
        out.append(build(names) if build else event.get_action_display())
    return out
