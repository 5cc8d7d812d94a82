"""Reference data shared by the demo generator and the dbt seeds (seeds/*.csv mirror these lists).

ART codes: digits for statutory insurers (GKV), `P` for private (PKV), `S` for self-pay.
"""

from __future__ import annotations

# (name, ART)
INSURERS: list[tuple[str, str]] = [
    ("AOK Bayern", "1"),
    ("AOK Baden-Württemberg", "1"),
    ("AOK PLUS", "1"),
    ("AOK Nordost", "1"),
    ("BKK firmus", "2"),
    ("Audi BKK", "2"),
    ("SBK Siemens-Betriebskrankenkasse", "2"),
    ("IKK classic", "3"),
    ("Techniker Krankenkasse", "4"),
    ("BARMER", "4"),
    ("DAK-Gesundheit", "4"),
    ("KKH Kaufmännische Krankenkasse", "4"),
    ("hkk Krankenkasse", "4"),
    ("KNAPPSCHAFT", "5"),
    ("SVLFG Landwirtschaftliche Krankenkasse", "6"),
    ("Österreichische Gesundheitskasse (ÖGK)", "7"),
    ("Allianz Private Krankenversicherung", "P"),
    ("DKV Deutsche Krankenversicherung", "P"),
    ("Debeka Krankenversicherungsverein a. G.", "P"),
    ("AXA Krankenversicherung", "P"),
    ("SIGNAL IDUNA Krankenversicherung", "P"),
    ("HUK-COBURG-Krankenversicherung", "P"),
    ("Barmenia Krankenversicherung", "P"),
    ("Selbstzahler", "S"),
]

# Known insurance type codes -> status (seeds/insurance_type_codes.csv holds the same).
INSURANCE_TYPE_CODES: list[tuple[str, str, str]] = [
    ("1", "GKV", "AOK (Allgemeine Ortskrankenkasse)"),
    ("2", "GKV", "BKK (Betriebskrankenkasse)"),
    ("3", "GKV", "IKK (Innungskrankenkasse)"),
    ("4", "GKV", "Ersatzkasse"),
    ("5", "GKV", "Knappschaft"),
    ("6", "GKV", "Landwirtschaftliche Krankenkasse"),
    ("7", "GKV", "Österreichische Sozialversicherung"),
    ("P", "PKV", "Private Krankenversicherung"),
    ("S", "Selbstzahler", "Selbstzahler"),
]

# (code, catalogue, description)  — seeds/service_codes.csv holds the same.
SERVICE_CODES: list[tuple[str, str, str]] = [
    ("01", "BEMA", "Eingehende Untersuchung"),
    ("Ä1", "BEMA", "Beratung"),
    ("04", "BEMA", "Parodontaler Screening-Index (PSI)"),
    ("13a", "BEMA", "Füllung einflächig"),
    ("13b", "BEMA", "Füllung zweiflächig"),
    ("13c", "BEMA", "Füllung dreiflächig"),
    ("25", "BEMA", "Indirekte Überkappung (Cp)"),
    ("28", "BEMA", "Exstirpation der vitalen Pulpa (VitE)"),
    ("32", "BEMA", "Wurzelkanalaufbereitung (WK)"),
    ("38", "BEMA", "Nachbehandlung (N)"),
    ("40", "BEMA", "Infiltrationsanästhesie (I)"),
    ("41a", "BEMA", "Leitungsanästhesie (L1)"),
    ("43", "BEMA", "Extraktion einwurzeliger Zahn (X1)"),
    ("105", "BEMA", "Lokale Medikamentenapplikation (Mu)"),
    ("107", "BEMA", "Entfernen harter Zahnbeläge (Zst)"),
    ("IP1", "BEMA", "Mundhygienestatus"),
    ("IP4", "BEMA", "Fluoridierung"),
    ("Ä925a", "BEMA", "Röntgen Zahnfilm"),
    ("0010", "GOZ", "Eingehende Untersuchung"),
    ("0090", "GOZ", "Intraorale Infiltrationsanästhesie"),
    ("1040", "GOZ", "Professionelle Zahnreinigung"),
    ("2060", "GOZ", "Kompositfüllung einflächig"),
    ("2080", "GOZ", "Kompositfüllung zweiflächig"),
    ("2197", "GOZ", "Adhäsive Befestigung"),
    ("3010", "GOZ", "Entfernung eines Zahnes"),
    ("4050", "GOZ", "Entfernung harter Beläge"),
]

# The ten default demo centers: (id, name, city)
DEFAULT_CENTERS: list[tuple[str, str, str]] = [
    ("center_01", "Zahnarztpraxis München", "München"),
    ("center_02", "Zahnzentrum Berlin Mitte", "Berlin"),
    ("center_03", "Zahnärzte am Hafen", "Hamburg"),
    ("center_04", "Dentalpraxis Köln-Ehrenfeld", "Köln"),
    ("center_05", "Zahnarztpraxis am Main", "Frankfurt am Main"),
    ("center_06", "Zahngesundheit Stuttgart", "Stuttgart"),
    ("center_07", "Praxis Dr. Özdemir & Kollegen", "Düsseldorf"),
    ("center_08", "Zahnarztpraxis Leipzig Süd", "Leipzig"),
    ("center_09", "Kieferorthopädie Nürnberg", "Nürnberg"),
    ("center_10", "Praxis Alpenblick", "Wien"),
]
