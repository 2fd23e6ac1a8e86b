"""Sandbox settings, from the command line with environment-variable fallbacks (SANDBOX_*)."""

import argparse
import dataclasses
import os

API_VERSIONS = ("2025-10-13", "2026-03-02", "2026-04-20")
LEGACY_VERSION = "2025-01-01"
FAULT_KINDS = ("error_5xx", "rate_limit", "slow", "lost_response", "pdf_missing")


@dataclasses.dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: str = "var/sandbox"
    api_key: str = ""
    default_version: str = "2026-03-02"
    advance_after: float | None = None
    refuse_share: float = 0.2
    send_delay: float = 0.3
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_max_attempts: int = 12
    webhook_backoff: float = 1.0
    faults: str = ""
    slow_ms: int = 2000
    retry_after: int = 1
    latency_ms: int = 0
    # Calls per second allowed per API key ("20/s" or "20"; empty: no limit). Beyond it the
    # sandbox answers 429 with Retry-After, as B2Brouter does (its numbers are not published).
    rate_limit: str = ""
    seed: int = 0
    # Seconds after its creation before an invoice's PDF is ready (404 until then).
    pdf_delay: float = 1.0
    # Only what B2Brouter documents: undocumented filters ignored, error bodies without
    # param/details, no invented fields in resources, webhooks or the directory (see
    # docs/b2brouter-contract.md, "Documented-only mode").
    documented_only: bool = False


def parse_faults(text):
    """`"error_5xx=0.1,rate_limit=0.05"` -> {"error_5xx": 0.1, "rate_limit": 0.05}."""
    rates = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        kind, _, rate = part.partition("=")
        rates[kind.strip()] = float(rate)
    return rates


def from_args(argv=None, environ=None):
    """Settings from argv, each option defaulting to SANDBOX_<OPTION> in the environment."""
    environ = os.environ if environ is None else environ
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    for field in dataclasses.fields(Settings):
        env_value = environ.get("SANDBOX_" + field.name.upper())
        if isinstance(getattr(defaults, field.name), bool):
            parser.add_argument(
                "--" + field.name.replace("_", "-"), dest=field.name, action="store_true",
                default=(env_value or "").strip().lower() in ("1", "true", "yes", "on"))
            continue
        default = getattr(defaults, field.name) if env_value is None else env_value
        kind = {int: int, float: float}.get(type(getattr(defaults, field.name)), str)
        if field.name == "advance_after":
            kind = float
        parser.add_argument(
            "--" + field.name.replace("_", "-"), dest=field.name, type=kind,
            default=kind(default) if default is not None else None,
        )
    settings = Settings(**vars(parser.parse_args(argv)))
    if not settings.api_key:
        parser.error("--api-key (or SANDBOX_API_KEY) is required")
    try:
        rates = parse_faults(settings.faults)
    except ValueError:
        parser.error(f"--faults: expected kind=rate,... not {settings.faults!r}")
    if not set(rates) <= set(FAULT_KINDS) or not all(0 <= r <= 1 for r in rates.values()):
        parser.error(f"--faults: kinds are {', '.join(FAULT_KINDS)}, rates within [0, 1]")
    try:
        parse_rate(settings.rate_limit)
    except ValueError:
        parser.error(f"--rate-limit: expected N/s, not {settings.rate_limit!r}")
    return settings


def parse_rate(text) -> float | None:
    """`"20/s"` or `"20"` -> 20.0 calls per second; empty -> None (no limit)."""
    text = (text or "").strip().lower()
    if not text:
        return None
    rate = float(text.removesuffix("/s"))
    if rate <= 0:
        raise ValueError(text)
    return rate
