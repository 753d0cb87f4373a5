"""Registry imports (SIECLE ``ElevesSansAdresses.xml``, nomenclature, Educompte CSV).

Every file is built here, in the real formats and encodings (ISO-8859-15 for SIECLE,
Windows-1252 or UTF-8 for CSV), with the names that break naive code: ligatures (œ),
accents, apostrophes, hyphens.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from educompte.accounts import authz
from educompte.accounts.models import User
from educompte.audit.models import AuditEvent
from educompte.audit.services import record
from educompte.demo import services as demo
from educompte.demo import siecle
from educompte.pupils import passwords
from educompte.pupils.models import AccountState, Student, StudentAccount
from educompte.pupils.services import SignIn, provisional_password, sign_in_pupil
from educompte.registry.parsers import (
    CSV_COLUMNS,
    BadFile,
    CsvPupils,
    SieclePupils,
    open_source,
    read_nomenclature,
)
from educompte.registry.services import purge_departed, run_import
from educompte.schools.models import Division, Mef, school_year_of
from tests.factories import make_pupil

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[1]
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


def import_xml(establishment, pupils=PUPILS, **kwargs):
    source = SieclePupils(eleves_xml(pupils, establishment.uai), MEFS)
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
    out = io.StringIO()
    call_command("import_students", str(path), stdout=out, **options)
    return out.getvalue()


# --- 1. First import ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["ISO-8859-15", "UTF-8"])
def test_first_import_creates_an_account_per_pupil(college, encoding):
    labels = read_nomenclature(nomenclature_xml())
    source = SieclePupils(eleves_xml(PUPILS, encoding=encoding), labels)

    report = run_import(authz.OPERATOR, college, source)

    assert counts(report) == (6, 0, 0, 0)
    assert report.total == 6
    accounts = accounts_by_registry_id()
    assert set(accounts) == {p["id"] for p in PUPILS}
    names = {rid: (a.student.last_name, a.student.first_name) for rid, a in accounts.items()}
    assert names == {
        "4001": ("Cœur", "Zoé"),
        "4002": ("Lebœuf", "Anaïs"),  # NOM_USAGE preferred to NOM_DE_FAMILLE
        "4003": ("N'Diaye", "Moussa"),
        "4004": ("Lefèvre-Martin", "Jean-Noël"),
        "4005": ("Œuvrard", "Lætitia"),
        "4006": ("D'Hérouville", "Éloïse"),
    }
    identifiers = [a.identifier for a in accounts.values()]
    assert len(set(identifiers)) == 6
    for rid, account in accounts.items():
        student = account.student
        assert account.state == AccountState.NOT_INFORMED
        password = provisional_password(account)
        assert password is not None and len(password) == 10
        assert set(password) <= set(passwords.ALPHABET)
        assert re.fullmatch(r"[a-z]{2,5}[0-9]{3,8}", account.identifier), account.identifier
        assert (account.user.last_name, account.user.first_name) == names[rid]
        assert student.establishment == college
        assert student.birth_date == datetime.date(2011, 3, 14)
        assert student.left_on is None
        assert student.division.school_year == school_year_of(TODAY)
    assert accounts["4005"].identifier.startswith("olaet")  # Œuvrard Lætitia, ASCII only
    assert accounts["4001"].student.ine == "1234567890A"
    assert accounts["4006"].student.ine is None
    assert {rid: a.student.division.code for rid, a in accounts.items()} == {
        "4001": "3A",
        "4002": "3A",
        "4003": "3B",
        "4004": "4A",
        "4005": "4A",
        "4006": "3B",
    }
    # Groups (3LATIN, 3ANGL1, AP-MATHS) and last year's class are not classes.
    assert set(Division.objects.values_list("code", flat=True)) == {"3A", "3B", "4A"}
    assert {rid: a.student.mef.label for rid, a in accounts.items()} == {
        "4001": "3EME",
        "4002": "3EME",
        "4003": "3EME",
        "4004": "4EME",
        "4005": "4EME",
        "4006": "3EME",
    }
    event = AuditEvent.objects.get(action=AuditEvent.Action.REGISTRY_IMPORT)
    assert event.establishment == college
    assert event.details["created"] == 6


def test_nomenclature_label_falls_back_to_libelle_long():
    data = (
        '<?xml version="1.0" encoding="ISO-8859-15"?><BEE_NOMENCLATURES><DONNEES><MEFS>'
        '<MEF CODE_MEF="10310019110"><LIBELLE_LONG>3ÈME BILANGUE</LIBELLE_LONG></MEF>'
        '<MEF CODE_MEF="10210001110"><FORMATION>4EME</FORMATION></MEF>'
        "</MEFS></DONNEES></BEE_NOMENCLATURES>"
    ).encode("iso-8859-15")
    assert read_nomenclature(data) == {MEF_3: "3ÈME BILANGUE", MEF_4: "4EME"}


def test_command_prints_the_summary_line(college, tmp_path):
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(PUPILS))
    nomenclature = tmp_path / "Nomenclature.xml"
    nomenclature.write_bytes(nomenclature_xml())

    output = run_cli(path, uai=COLLEGE_UAI, nomenclature=str(nomenclature))

    assert output.splitlines()[-1] == "created 6, updated 0, deactivated 0, unchanged 0"
    assert Student.objects.filter(establishment=college).count() == 6
    assert set(Mef.objects.values_list("code", "label")) == set(MEFS.items())


def test_installed_command_dry_run():
    """The ``educompte`` entry point, as an operator runs it, on a fresh SQLite database."""
    # Not pytest's tmp_path: concurrent pytest sessions rotate its base directory away.
    with tempfile.TemporaryDirectory(prefix="educompte-cli-") as tmp:
        _installed_command_dry_run(Path(tmp))


def _installed_command_dry_run(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "EDUCOMPTE_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "educompte.settings",
    }
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(PUPILS))
    educompte = REPO / ".venv" / "bin" / "educompte"
    if not educompte.exists():  # a venv elsewhere: the same entry point through Python
        educompte = Path(sys.executable).with_name("educompte")

    def run(*args: str) -> str:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            [str(educompte), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    run("migrate", "--no-input", "-v", "0")
    run("add-establishment", COLLEGE_UAI, "Collège Jean Moulin")
    output = run("import-students", str(path), "--uai", COLLEGE_UAI, "--dry-run")

    lines = output.splitlines()
    assert lines[-1] == "created 6, updated 0, deactivated 0, unchanged 0"
    assert "dry run: nothing was written" in lines
    # Nothing was written: a real run still creates all six.
    output = run("import-students", str(path), "--uai", COLLEGE_UAI)
    assert output.splitlines()[-1] == "created 6, updated 0, deactivated 0, unchanged 0"


# --- 2. Re-imports ------------------------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(college):
    import_xml(college)
    before = snapshot()
    passwords_before = {
        rid: provisional_password(a) for rid, a in accounts_by_registry_id().items()
    }

    report = import_xml(college)

    assert counts(report) == (0, 0, 0, 6)
    after = snapshot()
    assert after["counts"]["AuditEvent"] == before["counts"]["AuditEvent"] + 1
    before["counts"].pop("AuditEvent")
    after["counts"].pop("AuditEvent")
    assert after == before  # same identifiers, hashes, encrypted provisional passwords
    assert {
        rid: provisional_password(a) for rid, a in accounts_by_registry_id().items()
    } == passwords_before


@pytest.mark.parametrize("partial", [False, True], ids=["complete", "partial"])
def test_reimporting_a_changed_file(college, tmp_path, partial):
    import_xml(college)
    before = accounts_by_registry_id()
    old_passwords = {rid: provisional_password(a) for rid, a in before.items()}
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(CHANGED))

    output = run_cli(path, uai=COLLEGE_UAI, partial=partial)

    deactivated = 1 if partial else 2
    assert output.splitlines()[-1] == (
        f"created 1, updated 3, deactivated {deactivated}, unchanged 1"
    )
    after = accounts_by_registry_id()
    assert set(after) == {p["id"] for p in PUPILS + [NEWCOMER]}
    for rid in before:  # nobody got a new identifier
        assert after[rid].identifier == before[rid].identifier
    assert after["4001"].student.last_name == "Cœur de Lion"
    assert after["4001"].student.search_name == "coeur de lion zoe"
    assert after["4002"].student.division.code == "3C"
    assert after["4003"].student.mef.code == MEF_4
    for rid in ("4001", "4002", "4003", "4006"):  # updates keep the credentials
        assert after[rid].state == AccountState.NOT_INFORMED
        assert provisional_password(after[rid]) == old_passwords[rid]
        assert after[rid].user.password == before[rid].user.password

    # DATE_SORTIE in the past: deactivated, the provisional password no longer works.
    left = after["4004"]
    assert left.state == AccountState.DEACTIVATED
    assert left.student.left_on == LEFT_ON
    assert left.provisional_password_encrypted is None
    assert not left.user.has_usable_password()
    outcome = sign_in_pupil(left.identifier, old_passwords["4004"]).outcome
    assert outcome not in (SignIn.OK, SignIn.ACTIVATE)

    absent = after["4005"]
    if partial:  # not a complete export: a pupil it does not list is left alone
        assert absent.state == AccountState.NOT_INFORMED
        assert absent.student.left_on is None
        assert provisional_password(absent) == old_passwords["4005"]
        assert sign_in_pupil(absent.identifier, old_passwords["4005"]).outcome == SignIn.ACTIVATE
    else:
        assert absent.state == AccountState.DEACTIVATED
        assert absent.student.left_on == TODAY
        assert not absent.user.has_usable_password()
        outcome = sign_in_pupil(absent.identifier, old_passwords["4005"]).outcome
        assert outcome not in (SignIn.OK, SignIn.ACTIVATE)

    new = after["4007"]
    assert (new.student.last_name, new.student.first_name) == ("Dupré", "Maëlys")
    assert new.state == AccountState.NOT_INFORMED
    assert len(provisional_password(new)) == 10


def test_complete_and_partial_imports_through_the_service(college):
    import_xml(college)
    assert counts(import_xml(college, CHANGED, complete=False)) == (1, 3, 1, 1)
    # The same file again, now as a complete export: only the absent pupil changes.
    assert counts(import_xml(college, CHANGED, complete=True)) == (0, 0, 1, 6)
    assert counts(import_xml(college, CHANGED, complete=True)) == (0, 0, 0, 6)


def test_name_change_reaches_the_login(college):
    """The login's names (shown in the header to the signed-in pupil, used by the password
    similarity check) follow the registry like the pupil's."""
    import_xml(college)

    import_xml(college, CHANGED)

    user = accounts_by_registry_id()["4001"].user
    assert (user.last_name, user.first_name) == ("Cœur de Lion", "Zoé")


# --- 3. Pupil moving inside the installation ----------------------------------------------


def test_leaver_of_the_lycee_moves_to_the_college_with_the_file(college, lycee):
    """The normal change of establishment: the lycée's registry says the pupil left, the
    college's lists them. Same pupil and identifier; the deactivated account comes back
    with fresh credentials from the college, like any pupil listed again."""
    mover = pupil("9001", "8234567890G", "Lebœuf", "Noémie", division="2NDE3")
    import_xml(lycee, [mover])
    import_xml(lycee, [{**mover, "left": fr(LEFT_ON)}])
    account = StudentAccount.objects.select_related("user", "student").get()
    assert account.state == AccountState.DEACTIVATED
    identifier = account.identifier
    before_counts = snapshot()["counts"]

    report = import_xml(college, [{**mover, "id": "5501", "division": "3A"}])

    assert counts(report) == (0, 1, 0, 0)
    assert report.transfers == 0
    account = StudentAccount.objects.select_related("user", "student__division").get()
    assert account.student.establishment == college
    assert account.student.registry_id == "5501"
    assert account.student.left_on is None
    assert account.student.division.establishment == college
    assert account.student.division.code == "3A"
    assert account.identifier == identifier
    assert account.state == AccountState.NOT_INFORMED
    assert len(provisional_password(account)) == 10
    after_counts = snapshot()["counts"]
    for model in ("Student", "StudentAccount", "User"):
        assert after_counts[model] == before_counts[model]
    # Both journals say where the pupil went / came from.
    arrived = AuditEvent.objects.filter(action="leaver_arrived", account=account)
    assert {(e.establishment.uai, tuple(sorted(e.details.items()))) for e in arrived} == {
        (LYCEE_UAI, (("to_uai", COLLEGE_UAI),)),
        (COLLEGE_UAI, (("from_uai", LYCEE_UAI),)),
    }


def test_leaver_listed_with_another_birth_date_is_asked_for_not_moved(college, lycee):
    mover = pupil("9001", "8234567890G", "Lebœuf", "Noémie", division="2NDE3")
    import_xml(lycee, [mover])
    import_xml(lycee, [{**mover, "left": fr(LEFT_ON)}])

    report = import_xml(college, [{**mover, "id": "5501", "birth": "01/01/2010"}])

    assert counts(report) == (0, 0, 0, 0)
    assert report.transfers == 1
    student = Student.objects.get()
    assert student.establishment == lycee
    assert student.transfer_requests.get().state == "pending"


def test_pupil_current_in_the_lycee_is_not_moved_by_the_college_file(college, lycee):
    """Moving a current pupil needs the lycée's consent (tests/test_transfers.py)."""
    mover = pupil("9001", "8234567890G", "Lebœuf", "Noémie", division="2NDE3")
    import_xml(lycee, [mover])
    before = snapshot()["students"]

    report = import_xml(college, [{**mover, "id": "5501", "division": "3A"}])

    assert counts(report) == (0, 0, 0, 0)
    assert (report.transfers, report.samples["transfer"]) == (1, ["Lebœuf Noémie (3A)"])
    assert snapshot()["students"] == before
    assert report.summary_line() == (
        "created 0, updated 0, deactivated 0, unchanged 0, transfer requests pending 1"
    )


def test_an_import_never_renames_a_shared_mef(college, lycee):
    """MEF labels are the academy's nomenclature: one school's file must not rename them
    for every school. An unknown code is created with the file's label."""
    import_xml(college)
    rows = [csv_row(pupil("7001", None, "Martin", "Léa", mef=MEF_3))]
    rows.append(csv_row(pupil("7002", None, "Petit", "Hugo", mef="99999999999")))
    rows[0]["libelle_mef"] = "PIRATÉ"
    rows[1]["libelle_mef"] = "NOUVEAU MEF"

    import_csv(lycee, csv_bytes(rows))

    assert Mef.objects.get(code=MEF_3).label == "3EME"
    assert Mef.objects.get(code="99999999999").label == "NOUVEAU MEF"
    assert Student.objects.get(registry_id="7001").mef.label == "3EME"


def test_the_academy_command_sets_mef_labels(college, tmp_path):
    import_xml(college)
    nomenclature = tmp_path / "Nomenclature.xml"
    nomenclature.write_bytes(nomenclature_xml({MEF_3: "3EME BILANGUE", "12345678901": "6EME"}))
    out = io.StringIO()

    call_command("mef_labels", str(nomenclature), stdout=out)

    assert out.getvalue().splitlines()[-1] == "labels changed 1, created 1"
    assert dict(Mef.objects.values_list("code", "label")) == {
        MEF_3: "3EME BILANGUE",
        MEF_4: "4EME",
        "12345678901": "6EME",
    }
    with pytest.raises(CommandError, match="no such file"):
        call_command("mef_labels", str(tmp_path / "missing.xml"))


# --- 4. Dry run ---------------------------------------------------------------------------


def test_dry_run_reports_and_writes_nothing(imported, tmp_path):
    before = snapshot()
    path = tmp_path / "ElevesSansAdresses.xml"
    path.write_bytes(eleves_xml(CHANGED))

    report = import_xml(imported, CHANGED, dry_run=True)
    output = run_cli(path, uai=COLLEGE_UAI, dry_run=True, nomenclature=None)

    # Zoé (created by hand, not in the file) is absent from a complete export too.
    assert counts(report) == (1, 3, 3, 1)
    assert report.dry_run
    assert output.splitlines() == [
        "dry run: nothing was written",
        "created 1, updated 3, deactivated 3, unchanged 1",
    ]
    assert snapshot() == before


# --- 5. Files refused as a whole ----------------------------------------------------------

PASSWD = Path("/etc/passwd").read_text().splitlines()[0]
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


def _bad(*pupils: dict) -> bytes:
    return eleves_xml(GOOD_FIRST + list(pupils))


BAD_XML = {
    "wrong-establishment": (
        eleves_xml(GOOD_FIRST, uai=LYCEE_UAI),
        "PARAMETRES/UAJ",
        f"le fichier est celui de l'établissement {LYCEE_UAI}, pas de {COLLEGE_UAI}",
    ),
    "truncated": (eleves_xml(GOOD_FIRST + PUPILS)[:-200], "fichier", "XML mal formé"),
    "billion-laughs": (_hostile(LAUGHS, "&lol9;"), "fichier", "raison de sécurité"),
    "external-entity": (_hostile(XXE, "&x;"), "fichier", "raison de sécurité"),
    "unknown-encoding": (
        eleves_text(GOOD_FIRST, encoding="X-UNKNOWN").encode("iso-8859-15"),
        "fichier",
        "encodage inconnu",
    ),
    "duplicate-ine": (
        _bad(pupil("4998", COEUR["ine"], "Dupont", "Léo")),
        "ELEVE n°4 (ELEVE_ID=4998)",
        f"INE {COEUR['ine']} en double",
    ),
    "missing-name": (
        _bad(pupil("4998", "9934567890Z", None, "Léo")),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "nom de famille manquant",
    ),
    "missing-first-name": (
        _bad(pupil("4998", "9934567890Z", "Dupont", None)),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "prénom manquant",
    ),
    "missing-birth-date": (
        _bad(pupil("4998", "9934567890Z", "Dupont", "Léo", birth=None)),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "date de naissance manquante",
    ),
    "invalid-birth-date": (
        _bad(pupil("4998", "9934567890Z", "Dupont", "Léo", birth="31/02/2011")),
        "ELEVE n°4 (ELEVE_ID=4998)",
        "date de naissance « 31/02/2011 » invalide",
    ),
    "not-bee-eleves": (b"<FOO/>", "élément racine FOO", "BEE_ELEVES attendu"),
    "nomenclature-as-pupils": (
        nomenclature_xml(),
        "élément racine BEE_NOMENCLATURES",
        "ce n'est pas un export SIECLE ElevesSansAdresses",
    ),
}


@pytest.fixture
def imported(college):
    """The college after its first import, plus a pupil created by hand since."""
    import_xml(college)
    make_pupil(college)
    return college


@pytest.mark.parametrize("via", ["service", "command"])
@pytest.mark.parametrize("case", list(BAD_XML))
def test_bad_siecle_file_is_refused_and_nothing_changes(imported, tmp_path, case, via):
    data, ref, reason = BAD_XML[case]
    before = snapshot()

    if via == "service":
        with pytest.raises(BadFile) as caught:
            run_import(authz.OPERATOR, imported, SieclePupils(data, MEFS))
        problems = caught.value.problems
        assert caught.value.total == len(problems) == 1
        assert problems[0].ref == ref
        assert reason in problems[0].reason
        message = str(caught.value)
    else:
        path = tmp_path / "ElevesSansAdresses.xml"
        path.write_bytes(data)
        with pytest.raises(CommandError) as caught:
            run_cli(path, uai=COLLEGE_UAI)
        message = str(caught.value)
        assert message.startswith(f"{path}: import refused, nothing was written (1 problem(s)):")
        assert f"  {ref}: " in message
        assert reason in message

    assert snapshot() == before
    assert PASSWD not in message
    assert not Student.objects.filter(last_name__contains="root:").exists()


def test_missing_uaj_is_refused(imported):
    data = eleves_text(GOOD_FIRST).replace("<UAJ>0380001V</UAJ>", "")
    before = snapshot()
    with pytest.raises(BadFile) as caught:
        run_import(authz.OPERATOR, imported, SieclePupils(data.encode("iso-8859-15")))
    assert caught.value.problems[0].ref == "PARAMETRES/UAJ"
    assert snapshot() == before


def test_every_problem_is_reported_with_its_element(imported):
    data = _bad(
        pupil("4997", "BAD", "Dupont", "Léo"),
        pupil("4996", "9934567890Z", None, None, birth="2011-13-45"),
    )
    with pytest.raises(BadFile) as caught:
        run_import(authz.OPERATOR, imported, SieclePupils(data))
    assert [str(p) for p in caught.value.problems] == [
        "ELEVE n°4 (ELEVE_ID=4997) : INE « BAD » invalide (11 caractères attendus)",
        "ELEVE n°5 (ELEVE_ID=4996) : nom de famille manquant",
        "ELEVE n°5 (ELEVE_ID=4996) : prénom manquant",
        "ELEVE n°5 (ELEVE_ID=4996) : date de naissance « 2011-13-45 » invalide "
        "(jj/mm/aaaa attendu)",
    ]


# --- CSV ----------------------------------------------------------------------------------


def import_csv(establishment, data: bytes, name: str = "eleves.csv", **kwargs):
    return run_import(authz.OPERATOR, establishment, open_source(data, name), **kwargs)


@pytest.mark.parametrize(
    "options",
    [
        {"encoding": "cp1252"},
        {"encoding": "utf-8", "bom": True},
        {"encoding": "utf-8", "sep": ","},
    ],
    ids=["windows-1252", "utf-8-bom", "comma"],
)
def test_csv_import(college, options):
    rows = [csv_row(p) for p in PUPILS]
    for row in rows:
        if row["code_mef"] == MEF_3:
            row["libelle_mef"] = "3EME, BILANGUE"  # quoted: holds the separator
    data = csv_bytes(rows, **options)
    if options["encoding"] == "cp1252":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really Windows-1252 bytes (œ is 0x9C)

    report = import_csv(college, data)

    assert counts(report) == (6, 0, 0, 0)
    accounts = accounts_by_registry_id()
    assert {(a.student.last_name, a.student.first_name) for a in accounts.values()} == {
        ("Cœur", "Zoé"),
        ("Lebœuf", "Anaïs"),
        ("N'Diaye", "Moussa"),
        ("Lefèvre-Martin", "Jean-Noël"),
        ("Œuvrard", "Lætitia"),
        ("D'Hérouville", "Éloïse"),
    }
    assert accounts["4001"].student.division.code == "3A"
    assert Mef.objects.get(code=MEF_3).label == "3EME, BILANGUE"
    assert Mef.objects.get(code=MEF_4).label == "4EME"
    assert all(a.state == AccountState.NOT_INFORMED for a in accounts.values())
    # The same rows in SIECLE format change nothing (labels are not renamed).
    assert counts(import_xml(college)) == (0, 0, 0, 6)


def test_csv_and_xml_of_the_same_pupils_match(college):
    import_csv(college, csv_bytes([csv_row(p) for p in PUPILS], encoding="cp1252"))
    assert counts(import_csv(college, csv_bytes([csv_row(p) for p in CHANGED]))) == (1, 3, 2, 1)


def test_csv_missing_required_column(imported):
    columns = [c for c in CSV_COLUMNS if c != "prenom"]
    data = csv_bytes([csv_row(p) for p in PUPILS], columns=columns)
    before = snapshot()
    with pytest.raises(BadFile) as caught:
        import_csv(imported, data)
    (problem,) = caught.value.problems
    assert problem.ref == "ligne 1"
    assert problem.reason.startswith("colonnes manquantes : prenom")
    assert snapshot() == before


def test_csv_bad_date_is_reported_with_its_line(imported, tmp_path):
    rows = [
        csv_row({**COEUR, "last": "Cœur de Lion"}),
        csv_row(pupil("4998", "9934567890Z", "Dupont", "Léo", birth="31/02/2011")),
        csv_row(NEWCOMER),
    ]
    data = csv_bytes(rows, encoding="cp1252")
    before = snapshot()

    with pytest.raises(BadFile) as caught:
        import_csv(imported, data)
    path = tmp_path / "eleves.csv"
    path.write_bytes(data)
    with pytest.raises(CommandError) as cli:
        run_cli(path, uai=COLLEGE_UAI)

    (problem,) = caught.value.problems
    assert problem.ref == "ligne 3"
    assert problem.reason == "date de naissance « 31/02/2011 » invalide (jj/mm/aaaa attendu)"
    assert "  ligne 3: date de naissance « 31/02/2011 » invalide" in str(cli.value)
    assert snapshot() == before


def test_csv_in_an_unknown_format_is_refused(college):
    with pytest.raises(BadFile) as caught:
        open_source(b"whatever", "eleves.xlsx")
    assert "format non reconnu" in caught.value.problems[0].reason
    assert isinstance(open_source(b"id_eleve;nom\n", "ELEVES.TXT"), CsvPupils)


def test_csv_long_class_code_can_be_imported_twice(college):
    """A spreadsheet's class name longer than the column (30 characters)."""
    row = csv_row(COEUR, classe="3A - Section européenne anglais")  # 31 characters
    data = csv_bytes([row])
    assert counts(import_csv(college, data)) == (1, 0, 0, 0)

    assert counts(import_csv(college, data)) == (0, 0, 0, 1)


def test_csv_too_long_registry_id_is_refused(college):
    """Pupils without an INE are matched on id_eleve: one longer than the column could be
    stored truncated and never matched again, so the file is refused with a clear reason."""
    row = csv_row(HEROUVILLE, id_eleve="ENT-" + "0123456789" * 3)  # 34 characters
    data = csv_bytes([row])
    with pytest.raises(BadFile) as exc:
        import_csv(college, data)
    assert "ligne 2" in exc.value.problems[0].ref
    assert "trop long" in exc.value.problems[0].reason
    assert Student.objects.count() == 0

    ok = csv_bytes([csv_row(HEROUVILLE, id_eleve="ENT-" + "0123456789" * 2)])
    assert counts(import_csv(college, ok)) == (1, 0, 0, 0)
    assert counts(import_csv(college, ok)) == (0, 0, 0, 1)
    assert Student.objects.count() == 1


# --- 6. Purge of departed pupils ----------------------------------------------------------


def test_purge_erases_old_leavers_and_keeps_the_audit_trail(college, quick_head):
    long_ago = TODAY - datetime.timedelta(days=200)
    recently = TODAY - datetime.timedelta(days=5)
    import_xml(college)
    import_xml(
        college,
        [
            {**LEFEVRE, "left": fr(long_ago)},
            {**OEUVRARD, "left": fr(recently)},
            *[p for p in PUPILS if p not in (LEFEVRE, OEUVRARD)],
        ],
    )
    accounts = accounts_by_registry_id()
    old, recent = accounts["4004"], accounts["4005"]
    assert old.state == recent.state == AccountState.DEACTIVATED
    old_ids = (old.student_id, old.pk, old.user_id, old.identifier)
    record(
        AuditEvent.Action.ACCOUNT_DEACTIVATED, actor=quick_head, establishment=college, account=old
    )
    events_before = AuditEvent.objects.count()

    out = io.StringIO()
    call_command("purge_departed", days=92, stdout=out)

    assert out.getvalue().strip() == "erased 1 departed pupil(s) (left more than 92 days ago)"
    assert not Student.objects.filter(pk=old_ids[0]).exists()
    assert not StudentAccount.objects.filter(pk=old_ids[1]).exists()
    assert not User.objects.filter(pk=old_ids[2]).exists()
    assert not Student.objects.filter(last_name="Lefèvre-Martin").exists()
    assert StudentAccount.objects.filter(pk=recent.pk).exists()
    assert Student.objects.count() == 5
    assert AuditEvent.objects.count() == events_before
    event = AuditEvent.objects.get(action=AuditEvent.Action.ACCOUNT_DEACTIVATED)
    assert event.account is None
    assert event.subject_label == old_ids[3]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REGISTRY_IMPORT).count() == 2

    # Later, past the retention period for the second one too.
    assert purge_departed(92, today=recently + datetime.timedelta(days=93)) == 1
    assert not StudentAccount.objects.filter(pk=recent.pk).exists()
    assert Student.objects.count() == 4


# --- 7. Shipped demo files ----------------------------------------------------------------


def test_demo_files_are_reproducible_and_importable(college):
    generated = demo.generated_files()
    shipped = {p.name: p.read_bytes() for p in siecle.DATA_DIR.glob("*.xml")}
    assert set(shipped) == set(generated)
    for name, content in generated.items():
        assert shipped[name] == content, f"{name} differs from what the generator makes"

    labels = read_nomenclature(demo.NOMENCLATURE_FILE)
    assert labels == {**demo.COLLEGE["mefs"], **demo.LYCEE["mefs"]}
    for spec in demo.SPECS:
        uai = spec["uai"]
        assert SieclePupils(demo.eleves_file(uai), labels).validate(uai) == 432
    with pytest.raises(BadFile):
        SieclePupils(demo.eleves_file(LYCEE_UAI)).validate(COLLEGE_UAI)

    source = SieclePupils(demo.eleves_file(COLLEGE_UAI), labels)
    assert counts(run_import(authz.OPERATOR, college, source)) == (432, 0, 0, 0)
    zoe = Student.objects.select_related("division", "mef").get(
        first_name="Zoé", last_name="N'Guyen-Lefèvre"
    )
    assert (zoe.division.code, zoe.mef.label) == ("3A", "3EME")
