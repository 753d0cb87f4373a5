"""Registry test data (SIECLE and CSV files, their pupils) and the helpers of the import
console and of transfers, shared by tests/registry/ and tests/www/administration/."""

from __future__ import annotations

import csv
import datetime
import html
import io
import re
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import User
from educompte.audit.models import AuditEvent
from educompte.pupils.models import Student, StudentAccount
from educompte.registry.models import ImportJob
from educompte.registry.parsers import CSV_COLUMNS, SieclePupils, open_source
from educompte.registry.services import run_import
from educompte.schools.models import Division, Mef
from tests.html_helpers import parse

# --- The import console ----------------------------------------------------------------


UAI = "0380001V"
IMPORT = f"/administration/{UAI}/import/"


def job_url(job: ImportJob, uai: str = UAI) -> str:
    return f"/administration/{uai}/import/{job.pk}/"


def confirm_url(job: ImportJob, uai: str = UAI) -> str:
    return f"/administration/{uai}/import/{job.pk}/confirmer/"


def upload(client, data: bytes, name: str = "ElevesSansAdresses.xml", *, complete=True, **extra):
    form = {"file": SimpleUploadedFile(name, data, content_type="application/octet-stream")}
    if complete:
        form["complete"] = "on"
    form.update(extra)
    return client.post(IMPORT, form)


def page(response) -> str:
    return html.unescape(response.content.decode())


def problem_rows(text: str) -> list[list[str]]:
    table = re.search(r'<table id="import-problems">.*?</table>', text, flags=re.S)
    assert table, "no problems table"
    return [cells for _attrs, cells in parse(table.group(0)).rows if cells]


def stored_files(imports_dir: Path) -> list[Path]:
    return sorted(imports_dir.iterdir()) if imports_dir.exists() else []


COLLEGE_UAI, LYCEE_UAI = "0380001V", "0380002W"
MEF_3, MEF_4 = "10310019110", "10210001110"
MEFS = {MEF_3: "3EME", MEF_4: "4EME"}
TODAY = timezone.localdate()


def fr(day: datetime.date) -> str:
    return f"{day:%d/%m/%Y}"


# --- Builders of registry files ---------------------------------------------------------


def pupil(eid, ine, last, first, **extra) -> dict:
    """One ELEVE; ``None`` for a field leaves its element out of the file."""
    return {
        "id": eid,
        "ine": ine,
        "last": last,
        "first": first,
        "usage": None,
        "birth": "14/03/2011",
        "mef": MEF_3,
        "division": "3A",
        "groups": ["3ANGL1"],
        "left": None,
        **extra,
    }


def _element(tag: str, value: str | None) -> str:
    return "" if value is None else f"        <{tag}>{escape(value)}</{tag}>\n"


def eleves_text(pupils: list[dict], uai: str = COLLEGE_UAI, encoding: str = "ISO-8859-15") -> str:
    """``ElevesSansAdresses.xml`` as SIECLE writes it (with the elements we ignore)."""
    out = [
        f'<?xml version="1.0" encoding="{encoding}"?>\n',
        '<BEE_ELEVES VERSION="3.2">\n',
        "  <PARAMETRES>\n",
        f"    <UAJ>{uai}</UAJ>\n",
        "    <ANNEE_SCOLAIRE>2026</ANNEE_SCOLAIRE>\n",
        "    <DATE_EXPORT>01/09/2026</DATE_EXPORT>\n",
        "  </PARAMETRES>\n",
        "  <DONNEES>\n",
        "    <ELEVES>\n",
    ]
    for p in pupils:
        out.append(f"      <ELEVE ELEVE_ID={quoteattr(p['id'])} ELENOET={quoteattr(p['id'])}>\n")
        out.append(_element("ID_NATIONAL", p["ine"]))
        out.append(_element("NOM_DE_FAMILLE", p["last"]))
        out.append(_element("NOM_USAGE", p["usage"]))
        out.append(_element("PRENOM", p["first"]))
        out.append(_element("DATE_NAISS", p["birth"]))
        out.append("        <CODE_SEXE>2</CODE_SEXE>\n        <DOUBLEMENT>N</DOUBLEMENT>\n")
        out.append(_element("CODE_MEF", p["mef"]))
        out.append(_element("DATE_SORTIE", p["left"]))
        # Last year's class, nested: not this year's division.
        out.append(
            "        <SCOLARITE_AN_DERNIER><CODE_STRUCTURE>5C</CODE_STRUCTURE>"
            "<CODE_RNE>0380099X</CODE_RNE></SCOLARITE_AN_DERNIER>\n"
        )
        out.append("      </ELEVE>\n")
    out.append("    </ELEVES>\n    <STRUCTURES>\n")
    for p in pupils:
        # Groups (G) around the division (D): only the D one is the class.
        kinds = [(p["groups"][0], "G")] if p["groups"] else []
        kinds += [(p["division"], "D")] if p["division"] else []
        kinds += [(g, "G") for g in p["groups"][1:]] + [("AP-MATHS", "G")]
        out.append(f"      <STRUCTURES_ELEVE ELEVE_ID={quoteattr(p['id'])}>\n")
        for code, kind in kinds:
            out.append(
                f"        <STRUCTURE><CODE_STRUCTURE>{escape(code)}</CODE_STRUCTURE>"
                f"<TYPE_STRUCTURE>{kind}</TYPE_STRUCTURE></STRUCTURE>\n"
            )
        out.append("      </STRUCTURES_ELEVE>\n")
    out.append("    </STRUCTURES>\n  </DONNEES>\n</BEE_ELEVES>\n")
    return "".join(out)


def eleves_xml(pupils: list[dict], uai: str = COLLEGE_UAI, encoding: str = "ISO-8859-15"):
    return eleves_text(pupils, uai, encoding).encode(encoding)


def nomenclature_xml(mefs: dict[str, str] = MEFS) -> bytes:
    out = ['<?xml version="1.0" encoding="ISO-8859-15"?>\n<BEE_NOMENCLATURES VERSION="3.1">\n']
    out.append("  <DONNEES>\n    <MEFS>\n")
    for code, label in mefs.items():
        out.append(
            f"      <MEF CODE_MEF={quoteattr(code)}><FORMATION>{escape(label)}</FORMATION>"
            f"<LIBELLE_LONG>{escape(label)} (long)</LIBELLE_LONG></MEF>\n"
        )
    out.append("    </MEFS>\n  </DONNEES>\n</BEE_NOMENCLATURES>\n")
    return "".join(out).encode("iso-8859-15")


def csv_bytes(
    rows: list[dict],
    *,
    columns: list[str] = CSV_COLUMNS,
    sep: str = ";",
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


def csv_row(p: dict, **extra) -> dict:
    return {
        "id_eleve": p["id"],
        "ine": p["ine"] or "",
        "nom": p["usage"] or p["last"],
        "prenom": p["first"],
        "date_naissance": p["birth"],
        "classe": p["division"],
        "code_mef": p["mef"],
        "libelle_mef": MEFS.get(p["mef"], ""),
        "date_sortie": p["left"] or "",
        **extra,
    }


# The class as the registry has it at the start of the year.
COEUR = pupil("4001", "1234567890A", "Cœur", "Zoé", groups=["3LATIN", "3ANGL1"])
LEBOEUF = pupil("4002", "2234567890B", "Martin", "Anaïs", usage="Lebœuf")
NDIAYE = pupil("4003", "3234567890C", "N'Diaye", "Moussa", division="3B", groups=[])
LEFEVRE = pupil("4004", "4234567890D", "Lefèvre-Martin", "Jean-Noël", division="4A", mef=MEF_4)
OEUVRARD = pupil("4005", "5234567890E", "Œuvrard", "Lætitia", division="4A", mef=MEF_4)
HEROUVILLE = pupil("4006", None, "D'Hérouville", "Éloïse", division="3B")
PUPILS = [COEUR, LEBOEUF, NDIAYE, LEFEVRE, OEUVRARD, HEROUVILLE]
NEWCOMER = pupil("4007", "7234567890F", "Dupré", "Maëlys", division="3C")
LEFT_ON = TODAY - datetime.timedelta(days=10)


# A month later: one name, one class and one MEF changed; one pupil left (DATE_SORTIE),
# one is no longer listed, one arrived.
CHANGED = [
    {**COEUR, "last": "Cœur de Lion"},
    {**LEBOEUF, "division": "3C"},
    {**NDIAYE, "mef": MEF_4},
    {**LEFEVRE, "left": fr(LEFT_ON)},
    HEROUVILLE,
    NEWCOMER,
]


# These establishments hold a handful of pupils, so any deactivation is a "mass" one (over
# 5 % of the live accounts): the helpers confirm the count as the person would, since the
# tests using them are about what an import does. The guard itself is tested in
# tests/registry/test_import_guards.py and tests/www/administration/test_import_guard_pages.py.
CONFIRMED = 10_000


def import_xml(establishment, pupils=PUPILS, **kwargs):
    source = SieclePupils(eleves_xml(pupils, establishment.uai), MEFS)
    kwargs.setdefault("allow_deactivations", CONFIRMED)
    return run_import(authz.OPERATOR, establishment, source, **kwargs)


def counts(report) -> tuple[int, int, int, int]:
    return report.created, report.updated, report.deactivated, report.unchanged


def accounts_by_registry_id() -> dict[str, StudentAccount]:
    return {
        a.student.registry_id: a
        for a in StudentAccount.objects.select_related("student", "user", "student__division")
    }


def snapshot() -> dict:
    """Everything an import could write, to compare before and after."""
    accounts = StudentAccount.objects.select_related("user").order_by("pk")
    return {
        "counts": {
            m.__name__: m.objects.count()
            for m in (Student, StudentAccount, User, Division, Mef, AuditEvent)
        },
        "students": list(
            Student.objects.order_by("pk").values_list(
                "pk",
                "establishment_id",
                "registry_id",
                "ine",
                "last_name",
                "first_name",
                "birth_date",
                "division_id",
                "mef_id",
                "left_on",
                "search_name",
            )
        ),
        "accounts": [
            (
                a.pk,
                a.state,
                a.user.username,
                a.user.password,
                a.user.first_name,
                a.user.last_name,
                bytes(a.provisional_password_encrypted or b""),
                a.provisional_expires_at,
            )
            for a in accounts
        ],
        "mefs": list(Mef.objects.order_by("code").values_list("code", "label")),
    }


def run_cli(path, **options) -> str:
    if not options.get("dry_run"):
        options.setdefault("allow_deactivations", CONFIRMED)
    out = io.StringIO()
    call_command("import_students", str(path), stdout=out, **options)
    return out.getvalue()


# Good pupils first (a change, a newcomer), the faulty one last: all or nothing.
GOOD_FIRST = [{**COEUR, "last": "Cœur de Lion"}, LEBOEUF, NEWCOMER]


def _hostile(doctype: str, reference: str) -> bytes:
    text = eleves_text(GOOD_FIRST + [pupil("4999", "9934567890Z", "Piège", "Léa")])
    text = text.replace("<BEE_ELEVES", doctype + "\n<BEE_ELEVES", 1)
    return text.replace(">Piège<", f">{reference}<").encode("iso-8859-15")


LAUGHS = (
    "<!DOCTYPE BEE_ELEVES [\n"
    + "\n".join(
        ['<!ENTITY lol0 "lol">']
        + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    )
    + "\n]>"
)


XXE = '<!DOCTYPE BEE_ELEVES [<!ENTITY x SYSTEM "file:///etc/passwd">]>'


# --- CSV ----------------------------------------------------------------------------------


def import_csv(establishment, data: bytes, name: str = "eleves.csv", **kwargs):
    kwargs.setdefault("allow_deactivations", CONFIRMED)
    return run_import(authz.OPERATOR, establishment, open_source(data, name), **kwargs)


def state_of(account: StudentAccount) -> tuple:
    account = StudentAccount.objects.select_related("user", "student").get(pk=account.pk)
    return (
        account.student.establishment.uai,
        account.user.username,
        account.user.password,
        account.state,
        account.user.session_version,
    )


def import_as(agent, establishment, data: bytes, **kwargs):
    """The service the web upload (registry.jobs) and the command line both call."""
    return run_import(agent, establishment, open_source(data, "eleves.csv"), **kwargs)


# --- Transfers: an attacker's file carrying the INE of a pupil of another establishment ---


INE = COEUR["ine"]
# What the attacker's file says: the victim's INE, any name and birth date.
ATTACK_ROW = pupil("L-1", INE, "Pirate", "Jean", birth="01/01/2010", division="2NDE1")


def attack_csv(ine: str = INE, **extra) -> bytes:
    return csv_bytes([csv_row({**ATTACK_ROW, "ine": ine}, **extra)])
