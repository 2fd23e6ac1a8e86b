"""The legal XML checked as Chorus Pro would: the UBL 2.1 schema, then the official EN 16931
business rules (CEN/TC 434's XSLT, run with saxonche), from `../shared/reference/`.

    assert xsd_errors(xml) == [] and fatal_rules(xml) == []
"""

import functools
import re
from pathlib import Path

from lxml import etree

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
XSD_DIR = REFERENCE / "ubl-2.1-xsd" / "maindoc"
RULES = REFERENCE / "en16931" / "EN16931-UBL-validation.xslt"
EXAMPLES = REFERENCE / "en16931" / "examples"
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


@functools.cache
def _schema(kind: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"UBL-{kind}-2.1.xsd")))


def xsd_errors(xml: bytes) -> list[str]:
    """Where the document breaks the UBL 2.1 schema (Invoice or CreditNote); empty: valid."""
    root = etree.fromstring(xml)
    kind = etree.QName(root).localname
    schema = _schema(kind)
    return [] if schema.validate(root) else [str(e) for e in schema.error_log]


@functools.cache
def _rules():
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    compiled = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(RULES))
    return processor, compiled


def failed_rules(xml: bytes) -> list[tuple[str, str, str]]:
    """Every EN 16931 rule the document breaks: (rule id, flag, text)."""
    processor, compiled = _rules()
    node = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = etree.fromstring(compiled.transform_to_string(xdm_node=node).encode("utf-8"))
    return [(f.get("id") or "", f.get("flag") or "fatal",
             re.sub(r"\s+", " ", "".join(f.itertext())).strip())
            for f in report.iterfind(".//svrl:failed-assert", SVRL)]


def fatal_rules(xml: bytes) -> list[tuple[str, str]]:
    """The rules broken with a fatal flag (or none): what makes a document invalid."""
    return [(rule, text) for rule, flag, text in failed_rules(xml) if flag == "fatal"]


BR_FR_RULES = REFERENCE / "fr-ctc" / "BR-FR-Flux2-UBL.xslt"


@functools.cache
def _br_fr_rules():
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    compiled = processor.new_xslt30_processor().compile_stylesheet(
        stylesheet_file=str(BR_FR_RULES))
    return processor, compiled


def br_fr_fatal(xml: bytes) -> list[tuple[str, str]]:
    """The official BR-FR rules (France CTC, Flux 2) the document breaks with a fatal flag."""
    processor, compiled = _br_fr_rules()
    node = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = etree.fromstring(compiled.transform_to_string(xdm_node=node).encode("utf-8"))
    return [(f.get("id") or "", re.sub(r"\s+", " ", "".join(f.itertext())).strip())
            for f in report.iterfind(".//svrl:failed-assert", SVRL)
            if (f.get("flag") or "fatal") == "fatal"]
