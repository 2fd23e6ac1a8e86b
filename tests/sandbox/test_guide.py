"""Every curl request of the seed guide, parsed from its text and run in order with real curl."""

import re
import shlex
import subprocess
from pathlib import Path

import simplejson
from lxml import etree

from tests.sandbox.conftest import AMU_SERVICE, AMU_SIRET

GUIDE = Path(__file__).resolve().parents[3] / "shared/reference/seed-b2brouter-chorus-guide.txt"
STAGING = "https://api-staging.b2brouter.net"
# A curl command in the guide's one-line text: options continue after each " \ ".
CURL_RE = re.compile(r"curl --request \w+(?: \\ --(?:url|header|data) (?:'[^']*'|[^\s']+))+")
# The guide's literal ids of the entity contact and its organisational unit.
GUIDE_PARENT_ID, GUIDE_UNIT_ID = "1313228381", "1313228399"


def guide_commands():
    """The guide's curl commands as argv lists, in the guide's order."""
    text = GUIDE.read_text(encoding="utf-8")
    return [shlex.split(m.group(0).replace(" \\ ", " ")) for m in CURL_RE.finditer(text)]


def run_curl(argv, values):
    """Run one guide command with placeholders substituted; returns (status, body bytes)."""
    args = []
    for arg in argv[1:]:
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, str(value))
        args.append(arg)
    done = subprocess.run(["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", *args],
                          capture_output=True, check=True)
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def test_the_guide_has_its_ten_requests():
    methods = [argv[2] for argv in guide_commands()]
    assert methods == ["GET", "POST", "GET", "POST", "POST", "POST", "GET", "GET", "GET", "POST"]


def test_every_guide_request_works_in_order(sandbox, api):
    values = {STAGING: sandbox.url, "{YOUR_API_KEY}": sandbox.api_key,
              "{YOUR_API_VERSION}": "2026-03-02"}
    answers = []
    for step, argv in enumerate(guide_commands(), start=1):
        if step == 7:  # the guide reads the invoice "after sending": wait for the deposit
            api.wait_state(values["{INVOICE_ID}"], "sent")
        status, body = run_curl(argv, values)
        assert 200 <= status < 300, (step, status, body)
        answers.append(body)
        if step == 2:
            values["{ACCOUNT_ID}"] = simplejson.loads(body)["account"]["id"]
        elif step == 4:
            values[GUIDE_PARENT_ID] = simplejson.loads(body)["contact"]["id"]
        elif step == 5:
            values[GUIDE_UNIT_ID] = simplejson.loads(body)["contact"]["id"]
        elif step == 6:
            values["{INVOICE_ID}"] = simplejson.loads(body)["invoice"]["id"]
        elif step == 7:
            values["{download_legal_url}"] = simplejson.loads(body)["invoice"]["download_legal_url"]
    check_answers(answers, values)


def check_answers(answers, values):
    """The documented fields of each answer."""
    accounts, account, entry, entity, unit, created, shown, listed, xml, acked = answers
    assert set(simplejson.loads(accounts)) == {"accounts", "meta"}
    account = simplejson.loads(account)["account"]
    assert account["name"] == "Exemplar SAS" and account["tin_scheme"] == "9957"
    entry = simplejson.loads(entry)
    assert entry["cin_value"] == AMU_SIRET and entry["name"] == "UNIVERSITE D AIX MARSEILLE"
    assert AMU_SERVICE in [s["code"] for s in entry["chorus"]["services"]]
    assert simplejson.loads(entity)["contact"]["cin_value"] == AMU_SIRET
    unit = simplejson.loads(unit)["contact"]
    assert unit["parent_id"] == values[GUIDE_PARENT_ID] and unit["cin1_value"] == AMU_SERVICE
    created = simplejson.loads(created, use_decimal=True)["invoice"]
    assert created["state"] == "sending" and created["number"] == "00002"
    assert str(created["total"]) == "3712.50"
    shown = simplejson.loads(shown)["invoice"]
    assert shown["state"] == "sent" and shown["lines"][0]["description"] == "Cocktail Dinatoire"
    assert shown["download_legal_url"].startswith("/attachments/download/")
    listed = simplejson.loads(listed)
    assert [i["id"] for i in listed["invoices"]] == [values["{INVOICE_ID}"]]
    document = etree.fromstring(xml)
    ns = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}
    assert document.findtext("cbc:ID", namespaces=ns) == "00002"
    assert document.findtext("cbc:BuyerReference", namespaces=ns) == AMU_SERVICE
    assert simplejson.loads(acked)["invoice"]["ack_at"]
