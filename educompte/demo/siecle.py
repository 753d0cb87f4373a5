"""Generates the demo's registry files in the real SIECLE formats.

The files in ``educompte/demo/data/`` come from here (``educompte demo --write-files``) and
are shipped in the repository, so the demo goes through the same import code as a school.
"""

from __future__ import annotations

import datetime
import random
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from educompte.demo.names import FIRST_NAMES, LAST_NAMES

DATA_DIR = Path(__file__).resolve().parent / "data"
PUPILS_PER_CLASS = 36


def _ine(rng: random.Random) -> str:
    # INE-RNIE shape: 10 digits and a letter (the check letter is not computed for demo data).
    return f"{rng.randrange(10**9, 10**10)}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"


def pupils_for(spec: dict, year: int, rng: random.Random, zoe: dict | None) -> list[dict]:
    """Pupils of one establishment: ``spec['levels']`` × ``spec['letters']`` classes."""
    pupils = []
    next_id = 100000 + rng.randrange(100000)
    for level, mef_code, age in spec["levels"]:
        for letter in spec["letters"]:
            code = f"{level}{letter}"
            count = PUPILS_PER_CLASS
            if zoe is not None and code == "3A":
                pupils.append(
                    {
                        **zoe,
                        "id": str(next_id),
                        "ine": _ine(rng),
                        "mef": mef_code,
                        "division": code,
                        "groups": ["3LATIN"],
                    }
                )
                next_id += 1
                count -= 1
            for _ in range(count):
                birth = datetime.date(year - age, 1, 1) + datetime.timedelta(
                    days=rng.randrange(365)
                )
                groups = [f"{level}ANGL{rng.randint(1, 2)}"] if rng.random() < 0.5 else []
                pupils.append(
                    {
                        "id": str(next_id),
                        "ine": _ine(rng),
                        "last_name": rng.choice(LAST_NAMES),
                        "first_name": rng.choice(FIRST_NAMES),
                        "birth_date": birth,
                        "mef": mef_code,
                        "division": code,
                        "groups": groups,
                    }
                )
                next_id += 1
    return pupils


def eleves_xml(uai: str, year: int, pupils: list[dict]) -> bytes:
    """``ElevesSansAdresses.xml`` (root BEE_ELEVES, ISO-8859-15)."""
    out = [
        '<?xml version="1.0" encoding="ISO-8859-15"?>',
        '<BEE_ELEVES VERSION="3.2">',
        "  <PARAMETRES>",
        f"    <UAJ>{uai}</UAJ>",
        f"    <ANNEE_SCOLAIRE>{year}</ANNEE_SCOLAIRE>",
        f"    <DATE_EXPORT>01/09/{year}</DATE_EXPORT>",
        f"    <HORODATAGE>01/09/{year} 08:00:00</HORODATAGE>",
        "  </PARAMETRES>",
        "  <DONNEES>",
        "    <ELEVES>",
    ]
    for p in pupils:
        out += [
            f"      <ELEVE ELEVE_ID={quoteattr(p['id'])} ELENOET={quoteattr(p['id'][-5:])}>",
            f"        <ID_NATIONAL>{p['ine']}</ID_NATIONAL>",
            f"        <NOM_DE_FAMILLE>{escape(p['last_name'])}</NOM_DE_FAMILLE>",
            f"        <PRENOM>{escape(p['first_name'])}</PRENOM>",
            f"        <DATE_NAISS>{p['birth_date']:%d/%m/%Y}</DATE_NAISS>",
            "        <DOUBLEMENT>N</DOUBLEMENT>",
            f"        <DATE_ENTREE>01/09/{year}</DATE_ENTREE>",
            f"        <CODE_MEF>{p['mef']}</CODE_MEF>",
            "      </ELEVE>",
        ]
    out += ["    </ELEVES>", "    <STRUCTURES>"]
    for p in pupils:
        out.append(f"      <STRUCTURES_ELEVE ELEVE_ID={quoteattr(p['id'])}>")
        for code, kind in [(p["division"], "D")] + [(g, "G") for g in p["groups"]]:
            out += [
                "        <STRUCTURE>",
                f"          <CODE_STRUCTURE>{escape(code)}</CODE_STRUCTURE>",
                f"          <TYPE_STRUCTURE>{kind}</TYPE_STRUCTURE>",
                "        </STRUCTURE>",
            ]
        out.append("      </STRUCTURES_ELEVE>")
    out += ["    </STRUCTURES>", "  </DONNEES>", "</BEE_ELEVES>", ""]
    return "\n".join(out).encode("iso-8859-15")


def nomenclature_xml(mefs: dict[str, str]) -> bytes:
    out = [
        '<?xml version="1.0" encoding="ISO-8859-15"?>',
        '<BEE_NOMENCLATURES VERSION="3.1">',
        "  <DONNEES>",
        "    <MEFS>",
    ]
    for code, label in sorted(mefs.items()):
        out += [
            f"      <MEF CODE_MEF={quoteattr(code)}>",
            f"        <FORMATION>{escape(label)}</FORMATION>",
            f"        <LIBELLE_LONG>{escape(label)}</LIBELLE_LONG>",
            "      </MEF>",
        ]
    out += ["    </MEFS>", "  </DONNEES>", "</BEE_NOMENCLATURES>", ""]
    return "\n".join(out).encode("iso-8859-15")
