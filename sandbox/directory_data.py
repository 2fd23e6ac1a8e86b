"""The Chorus Pro directory the sandbox answers from: real French public entities.

Names, head-office addresses and SIRETs are those of the real entities (every SIRET passes
`stdnum.fr.siret.is_valid`, checked by the tests); the VAT number is derived from the SIREN.
Service codes and Chorus flags are illustrative: they are chosen so that every combination
of flags the product must handle is present (see FLAG_COVERAGE in the tests).
"""

from stdnum.fr import siren

# Flags, as short keys: s = service code required, e = engagement (commitment) required,
# se = either one is enough, np = payment status not reported.
_S, _E, _SE, _NP = "s", "e", "se", "np"

FACTURES_PUBLIQUES = "FACTURES_PUBLIQUES"


def _svc(code, name, active=True, engagement=False):
    return {"code": code, "name": name, "active": active, "engagement_required": engagement}


def _public(code="FACTURES_PUBLIQUES"):
    return _svc(code, "Factures entre entités publiques")


# (SIRET, name, address, postalcode, city, flags, services)
_ENTITIES = [
    ("13001533200013", "UNIVERSITE D AIX MARSEILLE", "58 BD CHARLES LIVON", "13007", "MARSEILLE 7",
     {_S, _E}, [
         _svc("ESR_MISSION_FACTURES_DEPLACEMENTS", "Factures marché FCM ROP cadre A2", engagement=True),
         _svc("ESR_DAF_FACTURES", "Direction des affaires financières", engagement=True),
         _svc("ESR_ANCIEN_SERVICE", "Service fermé", active=False),
         _public(),
     ]),
    ("35600000000048", "LA POSTE", "9 RUE DU COLONEL PIERRE AVIA", "75015", "PARIS", set(),
     [_svc("ACHATS_SIEGE", "Direction des achats du siège")]),
    ("11000201100044", "AGENCE POUR L INFORMATIQUE FINANCIERE DE L ETAT", "10 RUE AUGUSTE BLANQUI",
     "93100", "MONTREUIL", {_E}, []),
    ("21750001600019", "VILLE DE PARIS", "PLACE DE L HOTEL DE VILLE", "75004", "PARIS", {_S}, [
        _svc("DFA_FACTURES", "Direction des finances et des achats"),
        _svc("DPE_FACTURES", "Direction de la propreté et de l'eau"),
        _svc("DAC_ANCIEN", "Ancien service culturel", active=False),
        _public(),
    ]),
    ("21130055300016", "COMMUNE DE MARSEILLE", "QUAI DU PORT", "13002", "MARSEILLE 2", {_SE}, [
        _svc("MAR_DGAFP_FIN", "Direction générale adjointe finances"),
        _svc("MAR_ECOLES", "Direction de l'éducation", engagement=True),
    ]),
    ("21690123100011", "COMMUNE DE LYON", "1 PLACE DE LA COMEDIE", "69001", "LYON", set(), [
        _svc("LYON_FINANCES", "Direction des finances"),
    ]),
    ("21310555400017", "COMMUNE DE TOULOUSE", "PLACE DU CAPITOLE", "31000", "TOULOUSE", {_E, _NP},
     []),
    ("21060088800015", "COMMUNE DE NICE", "5 RUE DE L HOTEL DE VILLE", "06000", "NICE", set(), []),
    ("21440109300015", "COMMUNE DE NANTES", "2 RUE DE L HOTEL DE VILLE", "44000", "NANTES", {_S, _NP},
     [_svc("NANTES_FIN", "Direction des finances"), _public()]),
    ("21670482500019", "VILLE DE STRASBOURG", "1 PARC DE L ETOILE", "67000", "STRASBOURG", {_SE},
     [_svc("STRAS_ACHATS", "Service achats"), _svc("STRAS_OLD", "Service fusionné", active=False)]),
    ("21330063500017", "COMMUNE DE BORDEAUX", "PLACE PEY BERLAND", "33000", "BORDEAUX", {_S, _E},
     [_svc("BDX_FINANCES", "Direction des finances")]),
    ("21590350100017", "COMMUNE DE LILLE", "PLACE AUGUSTIN LAURENT", "59000", "LILLE", {_E}, []),
    ("21350238800019", "COMMUNE DE RENNES", "PLACE DE LA MAIRIE", "35000", "RENNES", set(),
     [_svc("RENNES_FIN", "Direction des finances"), _public()]),
    ("23750007900312", "REGION ILE DE FRANCE", "2 RUE SIMONE VEIL", "93400", "SAINT-OUEN-SUR-SEINE",
     {_S}, [_svc("PAF_FACTURES", "Pôle achats et finances"),
            _svc("LYCEES_TRAVAUX", "Pôle lycées", engagement=True)]),
    ("23130002100012", "REGION PROVENCE ALPES COTE D AZUR", "27 PLACE JULES GUESDE", "13002",
     "MARSEILLE 2", {_SE, _NP}, [_svc("PACA_FIN", "Direction des finances")]),
    ("20005376700014", "REGION AUVERGNE RHONE ALPES", "1 ESPLANADE FRANCOIS MITTERRAND", "69002",
     "LYON", {_E}, [_svc("AURA_DAF", "Direction des finances")]),
    ("20005226400013", "REGION GRAND EST", "1 PLACE ADRIEN ZELLER", "67000", "STRASBOURG", {_S, _E},
     [_svc("GE_FINANCES", "Direction des finances"), _svc("GE_ANCIEN", "Ancien pôle", active=False)]),
    ("20005375900011", "REGION NOUVELLE AQUITAINE", "14 RUE FRANCOIS DE SOURDIS", "33000",
     "BORDEAUX", set(), []),
    ("20005374200017", "REGION HAUTS DE FRANCE", "151 AVENUE DU PRESIDENT HOOVER", "59000", "LILLE",
     {_S}, [_svc("HDF_FIN", "Direction des finances"), _public()]),
    ("23350001600040", "REGION BRETAGNE", "283 AVENUE DU GENERAL PATTON", "35700", "RENNES",
     {_SE}, [_svc("BZH_DIRAM", "Direction de l'aménagement")]),
    ("20005340300016", "REGION NORMANDIE", "PLACE REINE MATHILDE", "14000", "CAEN", {_NP}, []),
    ("13001835100010", "UNIVERSITE DE BORDEAUX", "35 PLACE PEY BERLAND", "33000", "BORDEAUX",
     {_S}, [_svc("UB_AGENCE_COMPTABLE", "Agence comptable"),
            _svc("UB_LABOS", "Laboratoires", engagement=True)]),
    ("13000545700010", "UNIVERSITE DE STRASBOURG", "4 RUE BLAISE PASCAL", "67000", "STRASBOURG",
     {_E}, [_svc("UNISTRA_DAF", "Direction des affaires financières")]),
    ("13002608100013", "UNIVERSITE GRENOBLE ALPES", "621 AVENUE CENTRALE", "38400",
     "SAINT-MARTIN-D HERES", {_S, _E}, [_svc("UGA_SFC", "Service facturier central", engagement=True),
                                        _public()]),
    ("19691774400019", "UNIVERSITE CLAUDE BERNARD LYON 1", "43 BOULEVARD DU 11 NOVEMBRE 1918",
     "69100", "VILLEURBANNE", {_SE}, [_svc("UCBL_SFACT", "Service facturier")]),
    ("19350936100013", "UNIVERSITE DE RENNES", "2 RUE DU THABOR", "35000", "RENNES", set(),
     [_svc("UR_DAF", "Direction des affaires financières")]),
    ("13002526500013", "UNIVERSITE PARIS CITE", "85 BOULEVARD SAINT-GERMAIN", "75006", "PARIS",
     {_S}, [_svc("UPC_SFACT", "Service facturier"), _svc("UPC_OLD", "Ancien service", active=False)]),
    ("26750045200011", "ASSISTANCE PUBLIQUE HOPITAUX DE PARIS", "55 BOULEVARD DIDEROT", "75012",
     "PARIS", {_E, _NP}, [_svc("APHP_ACHATS", "Direction des achats", engagement=True), _public()]),
    ("11002001300097", "MINISTERE DE L INTERIEUR", "PLACE BEAUVAU", "75008", "PARIS", {_E},
     [_svc("MI_SG_FIN", "Secrétariat général, finances")]),
    ("12002701600357", "MINISTERE DE L EUROPE ET DES AFFAIRES ETRANGERES", "37 QUAI D ORSAY",
     "75007", "PARIS", {_S, _E}, [_svc("MEAE_DAF", "Direction des affaires financières")]),
    ("13000548100010", "FRANCE TRAVAIL", "1 AVENUE DU DOCTEUR GLEY", "75020", "PARIS", {_SE, _NP},
     [_svc("FT_ACHATS", "Direction des achats")]),
    ("38529030900454", "AGENCE DE L ENVIRONNEMENT ET DE LA MAITRISE DE L ENERGIE",
     "20 AVENUE DU GRESILLE", "49000", "ANGERS", set(), []),
    ("18002002600019", "CAISSE DES DEPOTS ET CONSIGNATIONS", "56 RUE DE LILLE", "75007", "PARIS",
     {_S}, [_svc("CDC_FACTURES", "Service facturier")]),
    ("22060001900016", "DEPARTEMENT DES ALPES MARITIMES", "147 BOULEVARD DU MERCANTOUR", "06200",
     "NICE", {_SE}, [_svc("CD06_FIN", "Direction des finances", engagement=True), _public()]),
    ("22440002800011", "DEPARTEMENT DE LOIRE ATLANTIQUE", "3 QUAI CEINERAY", "44000", "NANTES",
     {_E}, [_svc("CD44_FIN", "Direction des finances"),
            _svc("CD44_OLD", "Ancienne direction", active=False)]),
]


def _entry(siret, name, address, postalcode, city, flags, services):
    return {
        "name": name,
        "country": "fr",
        "cin_scheme": "0009",
        "cin_value": siret,
        "tin_scheme": "9957",
        "tin_value": "FR" + siren.to_tva(siret[:9]),
        "address": address,
        "city": city,
        "postalcode": postalcode,
        "public_sector": True,
        "active": True,
        "chorus": {
            "service_code_required": _S in flags,
            "engagement_required": _E in flags,
            "service_code_or_engagement_required": _SE in flags,
            "payment_status_not_reported": _NP in flags,
            "services": services,
        },
        "Invoice": {
            "transport_type_code": "fr.chorus",
            "document_type_code": "xml.ubl.invoice.chorus",
            "other_document_type_codes": [],
        },
    }


DIRECTORY = {row[0]: _entry(*row) for row in _ENTITIES}


def lookup(siret):
    """The directory entry for a SIRET (a fresh copy), or None when it is not listed."""
    entry = DIRECTORY.get(siret)
    return None if entry is None else {**entry, "chorus": {**entry["chorus"]}}


# -- companies (the reform's Annuaire) ---------------------------------------------------------
# Fictitious private companies (valid checksums, made-up names): what the directory answers for
# a French company registered with a PA, and whether the Annuaire lists it (a company that is
# not registered yet gets invoices but no tax report, FR-GUIDE).
_COMPANIES = [
    ("51234567900017", "ATELIERS DUPONT SAS", "12 RUE DE LA REPUBLIQUE", "69002", "LYON", True),
    ("82345678500018", "BOULANGERIE MARTIN SARL", "4 QUAI DE LA FOSSE", "44000", "NANTES", True),
    ("88877766100016", "TRANSPORTS BERNARD", "30 RUE NATIONALE", "59000", "LILLE", True),
    ("79012345900014", "CONSEIL LEROY SA", "8 AVENUE DE L OPERA", "75001", "PARIS", False),
]


def _company(siret, name, address, postalcode, city, in_annuaire):
    return {
        "name": name, "country": "fr", "cin_scheme": "0009", "cin_value": siret,
        "tin_scheme": "9957", "tin_value": "FR" + siren.to_tva(siret[:9]),
        "address": address, "city": city, "postalcode": postalcode,
        "public_sector": False, "active": True, "in_dgfip_annuaire": in_annuaire,
        "Invoice": {
            "transport_type_code": "peppol",
            "document_type_code": "xml.ubl.invoice.frcius.v1",
            "other_document_type_codes": ["xml.cii.cross_industry_invoice.frcius.v1"],
        },
    }


COMPANIES = {row[0]: _company(*row) for row in _COMPANIES}
PUBLIC_SIRENS = frozenset(siret[:9] for siret in DIRECTORY)


def company(siret_or_siren):
    """The company with this SIRET (or the head office of this SIREN), or None."""
    if len(siret_or_siren) == 9:
        found = [entry for key, entry in COMPANIES.items() if key[:9] == siret_or_siren]
        return dict(found[0]) if found else None
    entry = COMPANIES.get(siret_or_siren)
    return None if entry is None else dict(entry)


def is_public_siren(value):
    """A public entity's SIREN: one the Chorus directory lists, or (INSEE's rule) one whose
    first digit is 1 or 2 (the State, local authorities and public bodies)."""
    value = (value or "")[:9]
    return value in PUBLIC_SIRENS or value[:1] in ("1", "2")
