"""A deterministic, in-memory demo dataset: Ivoris centers with every field variation of DESIGN.md.

The dataset is backend-neutral (declared T-SQL-ish types, rows as plain tuples): duckdb_writer.py
writes it to DuckDB files, sql_writers.py to SQL Server and PostgreSQL. Each center draws from its
own random stream (seed + center id), so center_07 is the same whether 10 or 500 are generated.

Variations are assigned by PROFILES, cycled over the healthy centers: the default ten centers hold
every variation at least once, and a larger demo keeps repeating them. Healthy centers have exactly
one candidate per canonical table and column under the discovery rule (exact canonical name, else
`<canonical>_<2-4 letters/digits>`, case-insensitive) — `check_unambiguous` enforces it.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field
from typing import Any

from extract.canonical import load_canonical
from extract.demo.reference import DEFAULT_CENTERS, INSURERS, SERVICE_CODES

FAMILIES = ("integer", "text", "date", "datetime", "boolean")


def family_of_sql_type(sql_type: str) -> str:
    base = sql_type.upper().split("(")[0]
    if base in ("INT", "BIGINT", "SMALLINT", "TINYINT"):
        return "integer"
    if base in ("CHAR", "VARCHAR", "NCHAR", "NVARCHAR"):
        return "text"
    if base == "DATE":
        return "date"
    if base in ("DATETIME", "DATETIME2"):
        return "datetime"
    if base == "BIT":
        return "boolean"
    raise ValueError(f"demo generator: unsupported declared type {sql_type!r}")


@dataclass(frozen=True)
class PhysicalColumn:
    name: str
    family: str  # integer | text | date | datetime | boolean
    sql_type: (
        str  # declared T-SQL-ish type: INT, BIGINT, SMALLINT, BIT, DATE, DATETIME, CHAR(8), NVARCHAR(MAX)
    )


@dataclass
class PhysicalTable:
    schema: str
    name: str
    columns: list[PhysicalColumn]
    rows: list[tuple] = field(default_factory=list)

    def column_index(self, name: str) -> int:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        raise KeyError(f"{self.schema}.{self.name} has no column {name!r}")


@dataclass
class DemoCenter:
    id: str
    name: str
    city: str
    kind: str  # ok | ambiguous | incomplete | drifted | unreachable | corrupt
    schema: str  # the schema holding the Ivoris tables
    tables: list[PhysicalTable]
    truth: dict  # {tables: {CANON: {physical, columns: {COL: physical}}}, problems: [...], ...}

    def table(self, name: str, schema: str | None = None) -> PhysicalTable:
        schema = schema or self.schema
        for t in self.tables:
            if t.schema == schema and t.name == name:
                return t
        raise KeyError(f"{self.id}: no table {schema}.{name}")

    def canonical_table(self, canon: str) -> PhysicalTable:
        """The physical table the truth maps to a canonical table (healthy/drifted centers)."""
        return self.table(self.truth["tables"][canon]["physical"])


@dataclass
class DemoDataset:
    start_date: dt.date
    end_date: dt.date
    seed: int
    centers: list[DemoCenter]

    def center(self, center_id: str) -> DemoCenter:
        for c in self.centers:
            if c.id == center_id:
                return c
        raise KeyError(center_id)


# --------------------------------------------------------------------------------------------
# Profiles: one per default center, cycled for larger demos.
# datum: KARTEI / LEISTUNG DATUM declared types. case: upper | lower | mixed.
# fmt: off
PROFILES: list[dict[str, Any]] = [
    # center_01: clean names (P_NAME is the column P_NAME), stray tables in dbo (one named PATIENT)
    dict(suffix=False, case="upper", schema="ck", stray="dbo", kdatum="INT", ldatum="INT", delkz="INT",
         siblings=True, archives=False, extras=True),
    # center_02: suffixes, CHAR(8) dates, BIT flags, the big catalog (~500 tables in ck), hostile names
    dict(suffix=True, case="upper", schema="ck", stray=None, kdatum="CHAR(8)", ldatum="CHAR(8)", delkz="BIT",
         siblings=True, archives=True, extras=True, big=True, hostile=True),
    # center_03: lower-case names, DATE, lower-case PKV code `p`
    dict(suffix=True, case="lower", schema="ck", stray="dbo", kdatum="DATE", ldatum="DATE", delkz="INT",
         siblings=True, archives=True, extras=False, art_lower_p=True),
    # center_04: mixed case, DATETIME with a time part joined to INT service dates, hostile names
    dict(suffix=True, case="mixed", schema="ck", stray=None, kdatum="DATETIME", ldatum="INT", delkz="BIT",
         siblings=False, archives=True, extras=True, hostile=True, big_ids=True),
    # center_05: Ivoris tables in dbo; an old `ck` schema holds only archive/stray tables; suffixed DELKZ
    dict(suffix=True, case="upper", schema="dbo", stray="ck", kdatum="DATETIME", ldatum="DATETIME",
         delkz="INT", siblings=True, archives=False, extras=True, delkz_suffix=True),
    # center_06: DATE entries, CHAR(8) services, blank/NULL ART codes
    dict(suffix=True, case="upper", schema="ck", stray="dbo", kdatum="DATE", ldatum="CHAR(8)", delkz="BIT",
         siblings=True, archives=True, extras=False, art_blank=True),
    # center_07: CHAR(8) entries, DATETIME services, suffixed ID in some tables
    dict(suffix=True, case="upper", schema="ck", stray=None, kdatum="CHAR(8)", ldatum="DATETIME", delkz="INT",
         siblings=True, archives=True, extras=True, id_suffix=True),
    # center_08: lower case again, INT dates, BIT flags, moderate extra catalog
    dict(suffix=True, case="lower", schema="ck", stray="dbo", kdatum="INT", ldatum="DATE", delkz="BIT",
         siblings=True, archives=True, extras=True, art_blank=True, some_unrelated=True),
    # center_09: mixed case, DATE/INT, lower-case `p`
    dict(suffix=True, case="mixed", schema="ck", stray=None, kdatum="DATE", ldatum="INT", delkz="INT",
         siblings=True, archives=False, extras=True, art_lower_p=True, big_ids=True),
    # center_10: suffixes with digits only (e.g. KARTEI_2019 is a valid suffix!), DATETIME/DATE
    dict(suffix=True, case="upper", schema="ck", stray="dbo", kdatum="DATETIME", ldatum="DATE", delkz="BIT",
         siblings=True, archives=True, extras=True, digit_suffix=True),
]
# fmt: on

CANON_ORDER = ("PATIENT", "KASSEN", "PATKASSE", "KARTEI", "LEISTUNG")

MIXED = {
    "PATIENT": "Patient",
    "KASSEN": "Kassen",
    "PATKASSE": "PatKasse",
    "KARTEI": "Kartei",
    "LEISTUNG": "Leistung",
    "ID": "Id",
    "P_NAME": "P_Name",
    "P_VORNAME": "P_Vorname",
    "DELKZ": "DelKz",
    "NAME": "Name",
    "ART": "Art",
    "PATNR": "PatNr",
    "KASSENID": "KassenId",
    "DATUM": "Datum",
    "BEMERKUNG": "Bemerkung",
    "PATIENTID": "PatientId",
}

# Non-canonical columns. None of them matches a canonical column of its table under the rule
# (e.g. BEMERKUNG_INTERN: a 6-character suffix; KURZNAME: no underscore).
EXTRA_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "PATIENT": [
        ("GEBDAT", "DATE"),
        ("GESCHLECHT", "CHAR(1)"),
        ("TELEFON", "VARCHAR(30)"),
        ("P_TITEL", "NVARCHAR(20)"),
        ("ANGELEGT_AM", "DATETIME"),
    ],
    "KASSEN": [("IKNR", "VARCHAR(9)"), ("KURZNAME", "NVARCHAR(20)"), ("PLZ", "CHAR(5)")],
    "PATKASSE": [("GUELTIG_AB", "DATE"), ("VERSNR", "VARCHAR(12)"), ("KASSENID_VORHER", "INT")],
    "KARTEI": [
        ("BEHANDLER", "SMALLINT"),
        ("ZAHN", "VARCHAR(4)"),
        ("BEMERKUNG_INTERN", "NVARCHAR(200)"),
        ("DATUM_ERFASST", "DATETIME"),
        ("KARTEITYP", "CHAR(1)"),
    ],
    "LEISTUNG": [
        ("ANZAHL", "SMALLINT"),
        ("FAKTOR", "VARCHAR(6)"),
        ("ZAHN", "VARCHAR(4)"),
        ("BEHANDLER", "SMALLINT"),
    ],
}

# Tables sharing a prefix with a canonical one; they must never be taken for it.
SIBLINGS = {
    "KARTEI": ["KARTEIABRECHNUNG", "KARTEIVORLAGE", "KARTEI_ABRECHNUNG"],
    "LEISTUNG": ["LEISTUNGVALID", "LEISTUNGKATALOG", "LEISTUNG_GOZ_ALT"],
    "PATIENT": ["PATIENTKASSE", "PATIENTEN_ALT", "PATIENTBILD"],
    "KASSEN": ["KASSENARTEN", "KASSENVERZEICHNIS"],
    "PATKASSE": ["PATKASSEHIST"],
}

HOSTILE_TABLES = ['x"; DROP TABLE y; --', "O'Brien Export", "Termine; DELETE FROM ck.KARTEI --"]
HOSTILE_COLUMN = 'Notiz "alt"; --'

# fmt: off
SURNAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
    "Krause", "Meier", "Lehmann", "Özdemir", "Yılmaz", "Kowalski", "Nowak", "Nguyen", "Papadopoulos",
    "Popović", "Al-Hassan", "D'Angelo", "Groß", "Weiß", "Jäger", "Böhm", "Köhler", "Fuchs", "Vogel",
    "Friedrich", "Keller", "Günther", "Frank", "Müller-Lüdenscheidt", "von Bülow", "O'Connor", "Straße",
]
# fmt: on
# fmt: off
GIVEN_NAMES = [
    "Anna", "Lena", "Lea", "Marie", "Sophie", "Emma", "Hannah", "Mia", "Jörg", "Jürgen", "Ursula",
    "Käthe", "Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Maximilian", "Elias", "Björn", "Sören",
    "Günter", "Heinz", "Gisela", "Renate", "Zoë", "Chloé", "Ayşe", "Mehmet", "Fatma", "Ali", "Dragana",
    "Łukasz", "Małgorzata", "Thi Mai", "Jean-Luc", "Anne-Marie", "Hans-Peter", "Karl-Heinz",
]
# fmt: on
# fmt: off
CITIES = [
    "Aachen", "Augsburg", "Bamberg", "Bielefeld", "Bochum", "Bonn", "Braunschweig", "Bremen", "Chemnitz",
    "Cottbus", "Darmstadt", "Dortmund", "Dresden", "Duisburg", "Erfurt", "Erlangen", "Essen", "Flensburg",
    "Freiburg im Breisgau", "Fürth", "Gelsenkirchen", "Göttingen", "Graz", "Halle (Saale)", "Hannover",
    "Heidelberg", "Heilbronn", "Ingolstadt", "Jena", "Karlsruhe", "Kassel", "Kiel", "Koblenz", "Konstanz",
    "Krefeld", "Linz", "Lübeck", "Ludwigshafen", "Magdeburg", "Mainz", "Mannheim", "Mönchengladbach",
    "Münster", "Oberhausen", "Oldenburg", "Osnabrück", "Paderborn", "Passau", "Potsdam", "Regensburg",
    "Rostock", "Saarbrücken", "Salzburg", "Schwerin", "Siegen", "Trier", "Tübingen", "Ulm", "Wiesbaden",
    "Wolfsburg", "Wuppertal", "Würzburg", "Zürich", "Innsbruck", "Görlitz", "Lüneburg",
]
# fmt: on
# fmt: off
DISTRICTS = [
    "Mitte", "Nord", "Süd", "West", "Ost", "Altstadt", "am Markt", "am Dom", "am Ring", "im Zentrum",
]
# fmt: on
# fmt: off
PRACTICE_NAMES = [
    "Zahnarztpraxis {city}", "Zahnzentrum {city} {district}", "Zahnärzte {district} {city}",
    "Praxis Dr. {surname} ({city})", "Dentalpraxis {city}-{district}", "Zahngesundheit {city}",
    "Kieferorthopädie {city}", "Praxis Dr. {surname} & Kollegen, {city}",
]
# fmt: on

# Insurers that exercise the rules beyond reference.INSURERS.
DELETED_INSURERS = [("BKK Mobil Oil (aufgelöst)", "2"), ("Hanseatische Krankenkasse (alt)", "4")]
BLANK_INSURERS = [("Sozialamt (Kostenübernahme)", None), ("Bundeswehr Heilfürsorge", ""), ("Unbekannt", " ")]

TEETH = [f"{q}{n}" for q in (1, 2, 3, 4) for n in range(1, 9)]
NOTE_TEMPLATES = [
    "Zahn {t}: Füllung erneuert, Pat. gibt Kälteempfindlichkeit an.",
    "Kontrolle o.B., nächster Termin in 6 Monaten.",
    "PZR durchgeführt; Pat. über Zahnseide aufgeklärt.",
    'Zahn {t} extrahiert, Wundversorgung, Pat. erhält Merkblatt "Nach der Extraktion".',
    "Pat. klagt über Schmerzen regio {t}; Röntgen (Zahnfilm) angefertigt.",
    "Wurzelkanalbehandlung {t} begonnen – Trepanation, Med. Einlage (Ledermix).",
    "Anästhesie: Ultracain D-S forte 1,7 ml, Leitungsanästhesie.",
    "Beratung zu Zahnersatz, HKP erstellt und mitgegeben.",
    'Pat. sagt: "Es tut nur beim Kauen weh."',
    "Pat.'s Begleitperson wünscht Rückruf; Tel. hinterlegt.",
    "Zahnstein entfernt, Politur, Fluoridierung (Elmex Gelée).",
    "Füllung {t} mesial-okklusal (Komposit, A2), Kofferdam.",
    "Provisorium {t} gelockert → rezementiert.",
    "Pat. hat Termin abgesagt; neuer Termin vereinbart.",
    "Aufbissschiene angepasst, Pat. knirscht nachts (Bruxismus).",
    "Kind (8 J.) – Fissurenversiegelung 36, 46; sehr tapfer 🦷",
    "Größere Karies {t}, Pat. möchte Bedenkzeit. Weiß über Risiken Bescheid.",
    "Nachkontrolle nach Extraktion: Heilung regelrecht, Fäden entfernt.",
    "Parodontitis-Screening (PSI): Code 3 im Sextanten 4.",
    "Implantatberatung; Pat. (Übersetzer anwesend) versteht Aufklärung.",
]
# fmt: off
NOTE_ADDITIONS = [
    "\nAllergie: Penicillin!", "\r\nNachtrag: Rezept Ibuprofen 400 ausgestellt.",
    "\n\t- Anamnese aktualisiert", " Pat. lächelt 😁", ' Dolmetscherin: "Спасибо, доктор"',
    " Notiz der Patientin: 歯が痛い", " Ευχαριστώ!", " شكرا", " (Pat. O'Neill, Zimmer 2)",
    " '; DROP TABLE KARTEI; --", " Straßenname geändert: Maßstraße 5", ' 100 % zufrieden & "glücklich"',
    " \\n ist hier kein Zeilenumbruch",
]
# fmt: on
LONG_PARAGRAPH = (
    "Ausführliche Dokumentation: Anamnese erhoben, Medikamente (Marcumar pausiert nach Rücksprache mit "
    "Hausarzt), Befund: multiple kariöse Läsionen, insuffiziente Füllungen, Zahnstein im UK-Frontbereich. "
    "Therapieplan besprochen: 1) PZR, 2) Füllungstherapie Quadrant 1 und 2, 3) Wurzelbehandlung 36, "
    '4) Neuversorgung mit Krone. Pat. stimmt zu und unterschreibt "Einwilligung". Kosten erläutert.\n'
)

# Each center shows a few of these whatever its size (random notes cover them too, less reliably).
SHOWCASE_NOTES = [
    "",
    LONG_PARAGRAPH * 12 + "Ende der Dokumentation.",
    'Pat. sagt: "Der Zahn 🦷 tut weh"\nRöntgen veranlasst.\r\nNachtrag: Termin verschoben.',
    'Dolmetscherin: "Спасибо, доктор" – 歯が痛い – Ευχαριστώ – شكرا',
    "Pat.'s Mutter (O'Brien) hat angerufen; Maßnahme besprochen. ",
]

# fmt: off
UNRELATED_WORDS = [
    "ABRECHNUNG", "BEFUND", "TERMIN", "REZEPT", "LABOR", "ROENTGEN", "HKP", "MATERIAL", "BEHANDLER",
    "RECHNUNG", "MAHNUNG", "DOKU", "BILD", "ZAHNSTATUS", "PARO", "KFO", "IMPORT", "EXPORT", "LOG",
    "CONFIG", "BENUTZER", "RECHTE", "FORMULAR", "TEXTBAUSTEIN", "ANAMNESE", "QM", "HYGIENE", "STERI",
    "GERAET", "ARTIKEL", "LAGER", "BONUSHEFT", "RECALL", "SMS", "DRUCK", "STATISTIK", "SCHNITTSTELLE",
    "KONTAKT", "ÜBERWEISUNG", "Gerät",
]
# fmt: on
# fmt: off
UNRELATED_DECOR = [
    "{w}", "{w}_{n}", "TMP_{w}", "{w}_OLD{n}", "tbl{w}", "{w}${n}", "x_{w}_{w2}", "{w}{w2}", "{w} {w2}",
    "{w}-{n}", "zz_{w}_test", "{w}_{w2}_{n}", "_{w}", "{w}_BACKUP_{n}",
]
# fmt: on
# fmt: off
UNRELATED_COLUMNS = [
    ("ID", "INT"), ("TEXT", "NVARCHAR(200)"), ("WERT", "INT"), ("DATUM_ERSTELLT", "DATETIME"),
    ("USER_ID", "INT"), ("FLAG", "BIT"), ("PATNR", "INT"), ("KUERZEL", "VARCHAR(10)"), ("STAND",
    "DATE"), ("SORT", "SMALLINT"),
]
# fmt: on

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DIGITS = "0123456789"


def candidate_rank(name: str, canon: str) -> int | None:
    """The discovery rule: 0 exact, 1 `<canon>_<2-4 letters/digits>`, None no candidate (case-insensitive)."""
    if name.upper() == canon.upper():
        return 0
    if re.fullmatch(re.escape(canon) + r"_[A-Za-z0-9]{2,4}", name, flags=re.IGNORECASE | re.ASCII):
        return 1
    return None


def candidates(names: list[str], canon: str) -> list[str]:
    """Every name that could be `canon` under the discovery rule (any rank)."""
    return [n for n in names if candidate_rank(n, canon) is not None]


# --------------------------------------------------------------------------------------------


class _Namer:
    """Physical names of one center: suffixes and letter case from its profile."""

    def __init__(self, rng: random.Random, profile: dict):
        self.rng = rng
        self.profile = profile

    def suffix(self) -> str:
        n = self.rng.randint(2, 4)
        chars = _DIGITS if self.profile.get("digit_suffix") and self.rng.random() < 0.6 else _SUFFIX_CHARS
        return "".join(self.rng.choice(chars) for _ in range(n))

    def case(self, canon: str, suffix: str | None) -> str:
        mode = self.profile["case"]
        if mode == "lower":
            base, sfx = canon.lower(), (suffix or "").lower()
        elif mode == "mixed":
            base = MIXED.get(canon, canon.capitalize())
            sfx = (suffix or "").capitalize()
        else:
            base, sfx = canon, suffix or ""
        return f"{base}_{sfx}" if suffix else base

    def table(self, canon: str) -> str:
        return self.case(canon, self.suffix() if self.profile["suffix"] else None)

    def column(self, canon: str, table: str) -> str:
        key_like = canon in ("ID", "DELKZ")
        suffixed = self.profile["suffix"] and not key_like
        if canon == "DELKZ" and self.profile.get("delkz_suffix"):
            suffixed = True
        if canon == "ID" and self.profile.get("id_suffix") and table in ("KASSEN", "PATKASSE"):
            suffixed = True
        return self.case(canon, self.suffix() if suffixed else None)

    def plain(self, name: str) -> str:
        """A non-canonical name in the center's letter case."""
        mode = self.profile["case"]
        if mode == "lower":
            return name.lower()
        if mode == "mixed":
            return "_".join(p[:1].upper() + p[1:].lower() for p in name.split("_"))
        return name


def _center_rng(seed: int, key: str) -> random.Random:
    # str seeds are hashed with SHA-512 by `random`: stable across processes and Python runs
    return random.Random(f"ivoris-demo:{seed}:{key}")


def _center_identity(index: int, seed: int) -> tuple[str, str, str]:
    if index < len(DEFAULT_CENTERS):
        return DEFAULT_CENTERS[index]
    rng = _center_rng(seed, f"identity-{index}")
    city = rng.choice(CITIES)
    name = rng.choice(PRACTICE_NAMES).format(
        city=city, district=rng.choice(DISTRICTS), surname=rng.choice(SURNAMES)
    )
    return f"center_{index + 1:02d}", name, city


def is_deleted(value: Any) -> bool:
    return value is not None and value != 0


def _delkz_value(rng: random.Random, sql_type: str, deleted: bool) -> Any:
    """NULL or 0/false means not deleted; some centers write 2 or -1 for deleted (non-zero counts)."""
    if sql_type == "BIT":
        if deleted:
            return True
        return None if rng.random() < 0.3 else False
    if deleted:
        return rng.choice((1, 1, 1, 2, -1))
    return None if rng.random() < 0.3 else 0


def _datum_value(rng: random.Random, sql_type: str, day: dt.date) -> Any:
    if sql_type == "INT":
        return day.year * 10000 + day.month * 100 + day.day
    if sql_type == "CHAR(8)":
        return day.strftime("%Y%m%d")
    if sql_type == "DATE":
        return day
    # DATETIME with a time part; now and then the edges of the day
    r = rng.random()
    if r < 0.02:
        t = dt.time(23, 59, 59)
    elif r < 0.04:
        t = dt.time(0, 0, 0)
    else:
        t = dt.time(rng.randint(7, 18), rng.randint(0, 59), rng.randint(0, 59))
    return dt.datetime.combine(day, t)


def _note(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.01:
        return ""
    if r < 0.015:
        # longer than SQL Server's 4000-character nvarchar limit: needs (n)varchar(max) end to end
        return LONG_PARAGRAPH * rng.randint(12, 20) + "Ende der Dokumentation."
    text = rng.choice(NOTE_TEMPLATES).format(t=rng.choice(TEETH))
    if rng.random() < 0.35:
        text += rng.choice(NOTE_ADDITIONS)
    if rng.random() < 0.03:
        text += " "  # trailing blank: chart_entry is kept exactly as stored
    return text


class _CenterBuilder:
    def __init__(
        self,
        *,
        center_id: str,
        name: str,
        city: str,
        profile: dict,
        seed: int,
        start: dt.date,
        end: dt.date,
        entries_per_day: int,
        unrelated_tables: int,
        kind: str = "ok",
    ):
        self.id, self.name, self.city, self.kind = center_id, name, city, kind
        self.profile = profile
        self.rng = _center_rng(seed, center_id)
        self.namer = _Namer(self.rng, profile)
        self.start, self.end = start, end
        self.entries_per_day = entries_per_day
        self.unrelated = unrelated_tables
        self.canonical = load_canonical()
        self.schema = profile["schema"]
        self.tables: list[PhysicalTable] = []
        self.truth_tables: dict[str, dict] = {}
        self.phys: dict[str, dict[str, str]] = {}  # canon table -> canon column -> physical column
        self.table_names: dict[str, str] = {}

    # ---- structure -------------------------------------------------------------------------
    def _declared(self, table: str, col: str) -> str:
        p = self.profile
        if col == "DELKZ":
            return p["delkz"]
        if col == "ID":
            return "BIGINT" if p.get("big_ids") and table in ("KARTEI", "LEISTUNG") else "INT"
        if col == "DATUM":
            return p["kdatum"] if table == "KARTEI" else p["ldatum"]
        return {
            "P_NAME": "NVARCHAR(60)",
            "P_VORNAME": "NVARCHAR(60)",
            "NAME": "NVARCHAR(60)",
            "ART": "VARCHAR(2)" if p.get("art_blank") else "CHAR(1)",
            "PATNR": "INT",
            "KASSENID": "SMALLINT" if p.get("big_ids") else "INT",
            "BEMERKUNG": "NVARCHAR(MAX)",
            "PATIENTID": "INT",
            "LEISTUNG": "NVARCHAR(10)",
        }[col]

    def layout(
        self,
        canon: str,
        *,
        drop_columns: tuple[str, ...] = (),
        table_name: str | None = None,
        column_names: dict[str, str] | None = None,
    ) -> tuple[str, list[PhysicalColumn], dict[str, int]]:
        """Physical name, columns and canonical column positions of one canonical table."""
        tname = table_name or self.namer.table(canon)
        cols: list[PhysicalColumn] = []
        phys: dict[str, str] = {}
        for ccol in self.canonical.tables[canon].columns:
            if ccol in drop_columns:
                continue
            pname = (column_names or {}).get(ccol) or self.namer.column(ccol, canon)
            sql_type = self._declared(canon, ccol)
            cols.append(PhysicalColumn(pname, family_of_sql_type(sql_type), sql_type))
            phys[ccol] = pname
        if self.profile.get("extras"):
            extras = self.rng.sample(EXTRA_COLUMNS[canon], self.rng.randint(1, len(EXTRA_COLUMNS[canon])))
            for ename, etype in extras:
                if self.profile["suffix"] and self.rng.random() < 0.3:
                    ename = f"{ename}_{self.namer.suffix()}"
                ename = self.namer.plain(ename)
                # ID first (as in Ivoris), extra columns anywhere after it
                cols.insert(
                    self.rng.randint(1, len(cols)), PhysicalColumn(ename, family_of_sql_type(etype), etype)
                )
        if self.profile.get("hostile") and canon == "KARTEI":
            cols.append(PhysicalColumn(HOSTILE_COLUMN, "text", "NVARCHAR(50)"))
        positions = {ccol: next(i for i, c in enumerate(cols) if c.name == p) for ccol, p in phys.items()}
        self.phys[canon] = phys
        self.table_names[canon] = tname
        return tname, cols, positions

    def add_canonical(self, canon: str, rows_by_canon: list[dict[str, Any]], **layout_kw) -> PhysicalTable:
        tname, cols, positions = self.layout(canon, **layout_kw)
        canon_pos = list(positions.items())
        extra_pos = [(i, c) for i, c in enumerate(cols) if i not in set(positions.values())]
        rows = []
        for r in rows_by_canon:
            values: list[Any] = [None] * len(cols)
            for ccol, pos in canon_pos:
                values[pos] = r[ccol]
            for i, c in extra_pos:
                values[i] = self._extra_value(c)
            rows.append(tuple(values))
        table = PhysicalTable(self.schema, tname, cols, rows)
        self.tables.append(table)
        self.truth_tables[canon] = {"physical": tname, "columns": dict(self.phys[canon])}
        return table

    def _extra_value(self, col: PhysicalColumn) -> Any:
        name = col.name.upper()
        if name == HOSTILE_COLUMN.upper():
            return "x'); --"
        r = self.rng.random()
        if r < 0.25:
            return None
        fam = col.family
        if fam == "integer":
            return self.rng.randint(1, 9)
        if fam == "boolean":
            return r < 0.5
        if fam == "date":
            return self.start - dt.timedelta(days=self.rng.randint(0, 20000))
        if fam == "datetime":
            return dt.datetime.combine(self.start, dt.time(8, 0)) + dt.timedelta(
                minutes=self.rng.randint(0, 40000)
            )
        width = int(m.group(1)) if (m := re.search(r"\((\d+)\)", col.sql_type)) else 20
        if name.startswith("ZAHN"):
            value = self.rng.choice(TEETH)
        elif name.startswith("GESCHLECHT"):
            value = self.rng.choice("wmd")
        elif name.startswith("KARTEITYP"):
            value = self.rng.choice("BTR")
        elif name.startswith("FAKTOR"):
            value = self.rng.choice(("1,0", "2,3", "3,5"))
        elif name.startswith("PLZ"):
            value = f"{self.rng.randint(1000, 99999):05d}"
        elif name.startswith(("IKNR", "VERSNR", "TELEFON")):
            value = "".join(self.rng.choice(_DIGITS) for _ in range(min(width, 9)))
        else:
            value = self.rng.choice(("intern", "siehe Akte", "Rückfrage Labor", "ok"))
        if col.sql_type.startswith("CHAR("):
            value = value[:width].ljust(width)
        return value[:width]

    # ---- data --------------------------------------------------------------------------------
    def days(self) -> list[dt.date]:
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(n)]

    def build_data(self) -> dict[str, list[dict[str, Any]]]:
        rng, p = self.rng, self.profile
        delkz = p["delkz"]
        # Insurers: a sample of the real ones plus deleted and (in some centers) blank-ART insurers.
        insurers = rng.sample(INSURERS[:-1], rng.randint(10, len(INSURERS) - 1)) + [INSURERS[-1]]
        kassen: list[dict[str, Any]] = []
        kid = rng.randint(1, 20)
        for name, art in insurers:
            if art == "P" and p.get("art_lower_p") and rng.random() < 0.6:
                art = "p"
            kassen.append({"ID": kid, "NAME": name, "ART": art, "DELKZ": _delkz_value(rng, delkz, False)})
            kid += rng.randint(1, 3)
        for name, art in DELETED_INSURERS:
            kassen.append({"ID": kid, "NAME": name, "ART": art, "DELKZ": _delkz_value(rng, delkz, True)})
            kid += rng.randint(1, 3)
        if p.get("art_blank"):
            for name, art in BLANK_INSURERS:
                kassen.append({"ID": kid, "NAME": name, "ART": art, "DELKZ": _delkz_value(rng, delkz, False)})
                kid += rng.randint(1, 3)
        missing_insurer = kid + 100  # a link target that no KASSEN row has
        live_ids = [k["ID"] for k in kassen if k["NAME"] not in dict(DELETED_INSURERS)]
        deleted_ids = [k["ID"] for k in kassen if k["NAME"] in dict(DELETED_INSURERS)]

        # Patients
        n_days = len(self.days())
        n_pat = max(30, (n_days * self.entries_per_day) // 3)
        patients: list[dict[str, Any]] = []
        pid = rng.randint(1, 500)
        for _ in range(n_pat):
            patients.append(
                {
                    "ID": pid,
                    "P_NAME": rng.choice(SURNAMES),
                    "P_VORNAME": rng.choice(GIVEN_NAMES),
                    "DELKZ": _delkz_value(rng, delkz, rng.random() < 0.02),
                }
            )
            pid += rng.randint(1, 4)

        # Insurance links: none, one, or several (the highest non-deleted ID wins)
        links: list[dict[str, Any]] = []
        lid = rng.randint(1, 50)

        def link(patient: int, target: int, deleted: bool) -> None:
            nonlocal lid
            links.append(
                {"ID": lid, "PATNR": patient, "KASSENID": target, "DELKZ": _delkz_value(rng, delkz, deleted)}
            )
            lid += rng.randint(1, 5)

        # the first patients show every case even in a tiny demo; the rest are random
        order = rng.sample(patients, len(patients))
        link(order[1]["ID"], rng.choice(live_ids), False)
        link(order[1]["ID"], rng.choice(live_ids), True)  # the newest link is deleted: the older one counts
        link(order[2]["ID"], rng.choice(deleted_ids), False)
        link(order[3]["ID"], missing_insurer, False)
        link(order[4]["ID"], rng.choice(live_ids), False)
        link(order[4]["ID"], rng.choice(live_ids), False)  # two links: the highest ID wins
        # order[0] has no link
        for pat in order[5:]:
            r = rng.random()
            n_links = 0 if r < 0.08 else 1 if r < 0.75 else rng.randint(2, 3)
            for _ in range(n_links):
                t = rng.random()
                target = (
                    missing_insurer
                    if t < 0.03
                    else rng.choice(deleted_ids)
                    if t < 0.07
                    else rng.choice(live_ids)
                )
                link(pat["ID"], target, rng.random() < 0.08)
        rng.shuffle(links)  # physical order says nothing; the ID decides

        # Chart entries: entries_per_day on average, ending at end_date
        kartei: list[dict[str, Any]] = []
        eid = rng.randint(1000, 90000)
        per_day: dict[dt.date, list[int]] = {}
        e = self.entries_per_day
        spread = min(2, e)
        for day in self.days():
            count = e + rng.randint(-spread, spread)
            todays: list[int] = []
            for _ in range(count):
                # now and then a second entry for a patient already seen that day
                patient = rng.choice(todays) if todays and rng.random() < 0.12 else rng.choice(patients)["ID"]
                todays.append(patient)
                kartei.append(
                    {
                        "ID": eid,
                        "PATNR": patient,
                        "DATUM": _datum_value(rng, p["kdatum"], day),
                        "BEMERKUNG": _note(rng),
                        "DELKZ": _delkz_value(rng, delkz, rng.random() < 0.03),
                        "_day": day,
                    }
                )
                eid += rng.randint(1, 3)
            per_day[day] = todays

        # Services: on the entry's patient and date; duplicates, deleted rows, services without entries
        codes = [c for c, _, _ in SERVICE_CODES]
        leistung: list[dict[str, Any]] = []
        sid = rng.randint(1, 5000)
        all_days = self.days()

        def add(patient: int, day: dt.date, code: str, deleted: bool = False) -> None:
            nonlocal sid
            leistung.append(
                {
                    "ID": sid,
                    "PATIENTID": patient,
                    "DATUM": _datum_value(rng, p["ldatum"], day),
                    "LEISTUNG": code,
                    "DELKZ": _delkz_value(rng, delkz, deleted),
                }
            )
            sid += rng.randint(1, 2)

        for entry in kartei:
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
                code = rng.choice(codes)
                add(entry["PATNR"], entry["_day"], code, rng.random() < 0.05)
                if rng.random() < 0.08:
                    add(entry["PATNR"], entry["_day"], code)  # same code twice on one day
            if rng.random() < 0.04:
                # same patient, another day (maybe one without any entry)
                add(entry["PATNR"], rng.choice(all_days), rng.choice(codes))
        for _ in range(max(1, len(kartei) // 25)):
            # a patient-day with services but (most likely) no chart entry
            add(rng.choice(patients)["ID"], rng.choice(all_days), rng.choice(codes))
        # small demos still show every case: a deleted entry, a deleted and a duplicated service
        if len(kartei) >= 2 and not any(is_deleted(k["DELKZ"]) for k in kartei):
            kartei[len(kartei) // 2]["DELKZ"] = _delkz_value(rng, delkz, True)
        live_entries = [k for k in kartei if not is_deleted(k["DELKZ"])]
        for entry, note in zip(
            live_entries, rng.sample(SHOWCASE_NOTES, min(3, len(live_entries))), strict=False
        ):
            entry["BEMERKUNG"] = note
        if kartei and all(k["DELKZ"] is not None for k in kartei) and not is_deleted(kartei[0]["DELKZ"]):
            kartei[0]["DELKZ"] = None  # NULL means not deleted
        if kartei:
            first = kartei[0]
            add(first["PATNR"], first["_day"], codes[0], deleted=True)
            add(first["PATNR"], first["_day"], codes[1])
            add(first["PATNR"], first["_day"], codes[1])
        for k in kartei:
            del k["_day"]
        return {
            "PATIENT": patients,
            "KASSEN": kassen,
            "PATKASSE": links,
            "KARTEI": kartei,
            "LEISTUNG": leistung,
        }

    # ---- traps -------------------------------------------------------------------------------
    def add_siblings(self) -> None:
        for names in SIBLINGS.values():
            for base in self.rng.sample(names, self.rng.randint(1, len(names))):
                name = base
                if self.profile["suffix"] and self.rng.random() < 0.5:
                    name = f"{base}_{self.namer.suffix()}"
                name = self.namer.plain(name)
                cols = [
                    PhysicalColumn(self.namer.plain("ID"), "integer", "INT"),
                    PhysicalColumn(self.namer.plain("PATNR"), "integer", "INT"),
                    PhysicalColumn(self.namer.plain("BETRAG"), "text", "VARCHAR(12)"),
                ]
                rows = [(i + 1, self.rng.randint(1, 500), f"{self.rng.randint(5, 900)},00") for i in range(3)]
                self._add_extra(PhysicalTable(self.schema, name, cols, rows))

    def add_archives(self, data: dict[str, list[dict[str, Any]]]) -> None:
        """Archive copies of KARTEI/LEISTUNG with the same columns and some old rows."""
        for canon in ("KARTEI", "LEISTUNG"):
            if canon not in self.table_names:
                continue
            live = self.table(self.table_names[canon])
            base = self.table_names[canon]
            plain_canon = self.namer.plain(canon)
            names = [
                f"{base}_{self.namer.plain('ARCHIV')}",
                f"{self.namer.plain('ARCHIV')}_{base}",
                f"{plain_canon}_2019_{self.namer.plain('ALT')}",
                f"{plain_canon}_{self.namer.plain('ARCHIV')}",
            ]
            for name in self.rng.sample(names, 2):
                self._add_extra(
                    PhysicalTable(self.schema, name, list(live.columns), live.rows[: min(20, len(live.rows))])
                )

    def add_stray(self) -> None:
        stray = self.profile.get("stray")
        if not stray:
            return
        if stray == "dbo":
            # another schema with a few leftovers; one even carries an exact canonical name
            self.tables.append(
                PhysicalTable(
                    "dbo",
                    "sysdiagrams",
                    [
                        PhysicalColumn("name", "text", "NVARCHAR(128)"),
                        PhysicalColumn("diagram_id", "integer", "INT"),
                    ],
                    [("Diagramm 1", 1)],
                )
            )
            if self.rng.random() < 0.7 or self.id == "center_01":
                self.tables.append(
                    PhysicalTable(
                        "dbo",
                        self.namer.plain("PATIENT"),
                        [
                            PhysicalColumn(self.namer.plain("ID"), "integer", "INT"),
                            PhysicalColumn(self.namer.plain("NAME"), "text", "NVARCHAR(60)"),
                        ],
                        [(1, "Import-Test")],
                    )
                )
            self.tables.append(
                PhysicalTable(
                    "dbo",
                    self.namer.plain("KARTEI_IMPORT_2018"),
                    [
                        PhysicalColumn(self.namer.plain("ID"), "integer", "INT"),
                        PhysicalColumn(self.namer.plain("TEXT"), "text", "NVARCHAR(200)"),
                    ],
                    [],
                )
            )
        else:
            # the Ivoris tables moved to dbo; an old `ck` holds only archives and leftovers
            for name in ("KARTEI_2017_ALT", "ARCHIV_PATIENT", "KONFIG"):
                self.tables.append(
                    PhysicalTable(
                        stray,
                        name,
                        [
                            PhysicalColumn("ID", "integer", "INT"),
                            PhysicalColumn("INHALT", "text", "NVARCHAR(100)"),
                        ],
                        [(1, "alt")],
                    )
                )

    def add_hostile(self) -> None:
        for name in HOSTILE_TABLES:
            self._add_extra(
                PhysicalTable(
                    self.schema,
                    name,
                    [PhysicalColumn("it's", "text", "NVARCHAR(20)"), PhysicalColumn('a"b', "integer", "INT")],
                    [("'; --", 1)],
                )
            )

    def add_unrelated(self, count: int) -> None:
        made = 0
        while made < count:
            w, w2 = self.rng.choice(UNRELATED_WORDS), self.rng.choice(UNRELATED_WORDS)
            name = self.rng.choice(UNRELATED_DECOR).format(w=w, w2=w2, n=self.rng.randint(1, 2024))
            if self.rng.random() < 0.3:
                name = name.lower()
            if self._add_extra(PhysicalTable(self.schema, name, self._unrelated_columns(), [])):
                made += 1

    def _unrelated_columns(self) -> list[PhysicalColumn]:
        picked = self.rng.sample(UNRELATED_COLUMNS, self.rng.randint(1, 4))
        return [PhysicalColumn(n, family_of_sql_type(t), t) for n, t in picked]

    def _add_extra(self, table: PhysicalTable) -> bool:
        """Add a non-canonical table unless its name is taken (case-insensitively) or could be canonical."""
        taken = {(t.schema, t.name.lower()) for t in self.tables}
        if (table.schema, table.name.lower()) in taken:
            return False
        if table.schema == self.schema and any(
            candidate_rank(table.name, c) is not None for c in CANON_ORDER
        ):
            return False
        self.tables.append(table)
        return True

    def table(self, name: str) -> PhysicalTable:
        return next(t for t in self.tables if t.schema == self.schema and t.name == name)

    # ---- assembly ----------------------------------------------------------------------------
    def build(self) -> DemoCenter:
        data = self.build_data()
        for canon in CANON_ORDER:
            self.add_canonical(canon, data[canon])
        self.decorate(data)
        return self.center()

    def decorate(self, data: dict[str, list[dict[str, Any]]]) -> None:
        p = self.profile
        if p.get("siblings"):
            self.add_siblings()
        if p.get("archives"):
            self.add_archives(data)
        self.add_stray()
        if p.get("hostile"):
            self.add_hostile()
        if p.get("big"):
            self.add_unrelated(self.unrelated)
        elif p.get("some_unrelated"):
            self.add_unrelated(min(self.unrelated, p.get("some_unrelated_count", 25)))

    def center(self, problems: list[dict] | None = None, extra_truth: dict | None = None) -> DemoCenter:
        truth = {
            "kind": self.kind,
            "name": self.name,
            "city": self.city,
            "schema": self.schema,
            "tables": {c: self.truth_tables[c] for c in CANON_ORDER if c in self.truth_tables},
            "problems": problems or [],
        }
        truth.update(extra_truth or {})
        return DemoCenter(self.id, self.name, self.city, self.kind, self.schema, self.tables, truth)


def check_unambiguous(center: DemoCenter) -> None:
    """A healthy center offers exactly one candidate per canonical table and column in its schema."""
    canonical = load_canonical()
    names = [t.name for t in center.tables if t.schema == center.schema]
    for canon, ctable in canonical.tables.items():
        found = candidates(names, canon)
        expected = center.truth["tables"][canon]["physical"]
        if found != [expected]:
            raise AssertionError(f"{center.id}: {canon} candidates {found}, expected [{expected}]")
        cols = [c.name for c in center.table(expected).columns]
        for ccol in ctable.columns:
            found = candidates(cols, ccol)
            want = center.truth["tables"][canon]["columns"][ccol]
            if found != [want]:
                raise AssertionError(f"{center.id}: {canon}.{ccol} candidates {found}, expected [{want}]")


# ---- problem centers ---------------------------------------------------------------------------

PROBLEM_CENTERS: list[tuple[str, str, str]] = [
    ("problem_ambiguous", "Praxis Doppelt & Partner", "Zwickau"),
    ("problem_incomplete", "Zahnarztpraxis Unvollständig", "Gera"),
    ("problem_drifted", "Zahnzentrum Umbau", "Halle (Saale)"),
    ("problem_unreachable", "Praxis Funkloch", "Hof"),
    ("problem_corrupt", "Praxis Datensalat", "Suhl"),
]


def _problem_center(
    cid: str, name: str, city: str, *, seed: int, start: dt.date, end: dt.date, entries_per_day: int
) -> DemoCenter:
    kind = cid.removeprefix("problem_")
    profile = dict(PROFILES[1], big=False, hostile=False, schema="ck", stray=None)
    b = _CenterBuilder(
        center_id=cid,
        name=name,
        city=city,
        profile=profile,
        seed=seed,
        start=start,
        end=end,
        entries_per_day=max(1, entries_per_day // 2),
        unrelated_tables=0,
        kind=kind,
    )
    if kind in ("unreachable", "corrupt"):
        return b.center(problems=[{"kind": kind, "object": "source"}])
    data = b.build_data()
    if kind == "ambiguous":
        for canon in ("PATIENT", "KASSEN", "LEISTUNG"):
            b.add_canonical(canon, data[canon])
        # two PATNR columns in PATKASSE
        b.add_canonical("PATKASSE", data["PATKASSE"], column_names={"PATNR": "PATNR_X1"})
        pk = b.table(b.table_names["PATKASSE"])
        pk.columns.append(PhysicalColumn("PATNR_Y2", "integer", "INT"))
        pk.rows = [r + (r[pk.column_index("PATNR_X1")],) for r in pk.rows]
        # ambiguous objects are not in the truth's tables: a correct discovery maps neither candidate
        del b.truth_tables["PATKASSE"]["columns"]["PATNR"]
        # two KARTEI tables with the same shape
        b.add_canonical("KARTEI", data["KARTEI"], table_name="KARTEI_AB")
        first = b.table("KARTEI_AB")
        b.tables.append(
            PhysicalTable(b.schema, "KARTEI_CD", list(first.columns), first.rows[: len(first.rows) // 2])
        )
        del b.truth_tables["KARTEI"]
        b.decorate(data)
        return b.center(
            problems=[
                {"kind": "ambiguous", "object": "KARTEI", "candidates": ["KARTEI_AB", "KARTEI_CD"]},
                {"kind": "ambiguous", "object": "PATKASSE.PATNR", "candidates": ["PATNR_X1", "PATNR_Y2"]},
            ]
        )
    if kind == "incomplete":
        for canon in ("PATIENT", "KASSEN", "PATKASSE"):
            b.add_canonical(canon, data[canon])
        rows = [{k: v for k, v in r.items() if k != "BEMERKUNG"} for r in data["KARTEI"]]
        b.add_canonical("KARTEI", rows, drop_columns=("BEMERKUNG",))
        b.decorate(data)  # LEISTUNGVALID & co. stay, LEISTUNG itself is missing
        return b.center(
            problems=[
                {"kind": "missing_table", "object": "LEISTUNG"},
                {"kind": "missing_column", "object": "KARTEI.BEMERKUNG"},
            ]
        )
    if kind == "drifted":
        for canon in CANON_ORDER:
            b.add_canonical(canon, data[canon])
        b.decorate(data)
        # the approved mapping still names the column before it was renamed
        kartei = b.table(b.table_names["KARTEI"])
        old = b.truth_tables["KARTEI"]["columns"]["BEMERKUNG"]
        new = "BEMERKUNG_NEU" if old.upper() != "BEMERKUNG_NEU" else "BEMERKUNG_TXT"
        i = kartei.column_index(old)
        kartei.columns[i] = PhysicalColumn(new, kartei.columns[i].family, kartei.columns[i].sql_type)
        b.truth_tables["KARTEI"]["columns"]["BEMERKUNG"] = new
        approved = {
            c: {"physical": t["physical"], "columns": dict(t["columns"])} for c, t in b.truth_tables.items()
        }
        approved["KARTEI"]["columns"]["BEMERKUNG"] = old
        return b.center(
            problems=[{"kind": "drift", "object": "KARTEI.BEMERKUNG", "approved": old, "live": new}],
            extra_truth={"approved_tables": approved},
        )
    raise ValueError(cid)


# ---- entry point -------------------------------------------------------------------------------


def generate_center(
    index: int, *, seed: int, start: dt.date, end: dt.date, entries_per_day: int, unrelated_tables: int
) -> DemoCenter:
    """Healthy center number `index` (0-based); the same whatever the total number of centers."""
    cid, name, city = _center_identity(index, seed)
    profile = dict(PROFILES[index % len(PROFILES)])
    if profile.get("big") and index >= len(PROFILES):
        # only the first big center carries the full catalog; its repeats carry a smaller one
        profile.update(big=False, some_unrelated=True, some_unrelated_count=50)
    b = _CenterBuilder(
        center_id=cid,
        name=name,
        city=city,
        profile=profile,
        seed=seed,
        start=start,
        end=end,
        entries_per_day=entries_per_day,
        unrelated_tables=unrelated_tables,
    )
    center = b.build()
    check_unambiguous(center)
    return center


def generate_dataset(
    *,
    centers: int = 10,
    days: int = 28,
    entries_per_day: int = 12,
    seed: int = 42,
    end_date: dt.date,
    problems: bool = False,
    unrelated_tables: int = 400,
) -> DemoDataset:
    if centers < 0 or days < 1 or entries_per_day < 0:
        raise ValueError("centers >= 0, days >= 1 and entries_per_day >= 0 are required")
    start = end_date - dt.timedelta(days=days - 1)
    out = [
        generate_center(
            i,
            seed=seed,
            start=start,
            end=end_date,
            entries_per_day=entries_per_day,
            unrelated_tables=unrelated_tables,
        )
        for i in range(centers)
    ]
    if problems:
        for cid, name, city in PROBLEM_CENTERS:
            out.append(
                _problem_center(
                    cid, name, city, seed=seed, start=start, end=end_date, entries_per_day=entries_per_day
                )
            )
    return DemoDataset(start_date=start, end_date=end_date, seed=seed, centers=out)
