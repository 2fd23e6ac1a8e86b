"""The directory dataset: real entities, valid SIRETs, every combination of Chorus flags."""

from stdnum.fr import siret, tva

from sandbox.directory_data import DIRECTORY, FACTURES_PUBLIQUES


def flags(entry):
    chorus = entry["chorus"]
    return (chorus["service_code_required"], chorus["engagement_required"],
            chorus["service_code_or_engagement_required"])


def test_at_least_thirty_entities_with_valid_identifiers():
    assert len(DIRECTORY) >= 30
    for number, entry in DIRECTORY.items():
        assert siret.is_valid(number), number
        assert entry["cin_value"] == number and tva.is_valid(entry["tin_value"])
        assert entry["name"] and entry["address"] and entry["city"] and entry["postalcode"]


def test_the_guides_entity():
    entry = DIRECTORY["13001533200013"]
    assert entry["name"] == "UNIVERSITE D AIX MARSEILLE"
    assert (entry["address"], entry["postalcode"], entry["city"]) == (
        "58 BD CHARLES LIVON", "13007", "MARSEILLE 7")
    assert flags(entry) == (True, True, False)
    service = entry["chorus"]["services"][0]
    assert service == {"code": "ESR_MISSION_FACTURES_DEPLACEMENTS",
                       "name": "Factures marché FCM ROP cadre A2", "active": True,
                       "engagement_required": True}
    assert "35600000000048" in DIRECTORY  # La Poste head office (checksum exception)


def test_every_flag_combination_is_covered():
    seen = {flags(e) for e in DIRECTORY.values()}
    assert {(False, False, False), (True, False, False), (False, True, False),
            (True, True, False), (False, False, True)} <= seen
    entries = list(DIRECTORY.values())
    assert any(e["chorus"]["payment_status_not_reported"] for e in entries)
    assert any(not e["chorus"]["payment_status_not_reported"] for e in entries)
    services = [s for e in entries for s in e["chorus"]["services"]]
    assert any(not s["active"] for s in services)
    assert any(s["code"] == FACTURES_PUBLIQUES for s in services)
    assert any(s["engagement_required"] for s in services)
    assert any(not e["chorus"]["services"] for e in entries)
