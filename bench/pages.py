"""How the back office's pages answer as invoices pile up: 1 000, 100 000, 1 000 000 of them.

    .venv/bin/python bench/pages.py [--sizes 1000,100000,1000000] [--requests 20] [--json]

For each size the bulk generator (`bench/generate.py`) brings the database up to that many
invoices (sizes are filled in increasing order, each adding to the last), then every page is
requested `--requests` times through Django's test client, signed in as a user of the page's
role, after `--warmup` untimed requests. Printed per size: the median and p95 server time and
the SQL queries per request; then, per page, the ratio median(largest) / median(smallest)
(target <= 1.3) and whether the query count stayed constant (target: yes).

Pages are found by URL name; one that does not exist (yet) is skipped with a note.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import time  # noqa: E402

from bench import common  # noqa: E402

TARGET = 1.3  # median at the largest size / median at the smallest
LIST = ["invoicing:list", "invoicing:invoice_list"]
# (label, URL names tried in order, role of the user who opens it, query string: its {names}
# come from `_query_values`, a buyer and a number of the generated data)
PAGES = [
    ("dashboard (/: news + list)", ["home"], "staff", ""),
    ("invoice list", LIST, "staff", ""),
    ("invoice list, filtered", LIST, "staff", "state=refused"),
    ("list, one buyer", LIST, "staff", "buyer={buyer}"),
    ("list, last month", LIST, "staff", "date_from={month_ago}&date_to={today}"),
    ("list, by amount", LIST, "staff", "sort=-total"),
    ("search: a number", LIST, "staff", "q={number}"),
    ("search: a buyer's name", LIST, "staff", "q={buyer_name}"),
    ("search: a SIRET", LIST, "staff", "q={siret}"),
    ("finance archive", ["finance:archive"], "finance", ""),
    ("worklist", ["finance:worklist", "invoicing:worklist"], "finance", ""),
    ("ageing", ["finance:ageing", "invoicing:ageing"], "finance", ""),
    ("ageing, 7 days", ["finance:ageing", "invoicing:ageing"], "finance", "days=7"),
]


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=common.int_list, default=[1000, 100_000, 1_000_000],
                   help="invoice counts, comma-separated")
    p.add_argument("--requests", type=int, default=20, help="timed requests per page and size")
    p.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    p.add_argument("--keep", action="store_true",
                   help="reuse the database a previous run filled (only sizes above what it holds "
                        "are measured)")
    args = p.parse_args()
    common.main_guard(lambda: run(args))


def _resolve(names: list[str]) -> str | None:
    from django.urls import NoReverseMatch, reverse

    for name in names:
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return None


def _measure(client, url: str, requests: int, warmup: int) -> dict:
    times, counts, statuses, size, body = [], set(), set(), 0, b""
    for index in range(warmup + requests):
        with common.QueryCounter() as queries:
            started = time.perf_counter()
            response = client.get(url)
            if getattr(response, "streaming", False):
                body = b"".join(response.streaming_content)
            else:
                body = response.content
            size = len(body)
            elapsed = time.perf_counter() - started
        if index >= warmup:
            times.append(elapsed * 1000)
            counts.add(queries.count)
            statuses.add(response.status_code)
    return {"median ms": common.median(times), "p95 ms": common.percentile(times, 0.95),
            "queries": counts.pop() if len(counts) == 1 else f"{min(counts)}-{max(counts)}",
            "status": ",".join(str(s) for s in sorted(statuses)), "KB": size / 1024,
            # Table rows shown (headers included): a page with fewer rows renders less.
            "rows": body.count(b"<tr")}


def _query_values(account) -> dict:
    """A buyer (the generator's fourth, as many invoices as any), one invoice number known at
    every size (the 500th invoice), the last month."""
    import datetime
    from urllib.parse import quote

    from directory.models import Buyer
    from invoicing.models import Invoice

    buyer = Buyer.objects.filter(account=account).order_by("pk")[3]
    number = Invoice.objects.filter(account=account).order_by("pk").values_list("number", flat=True)[499]
    today = datetime.date.today()
    return {"buyer": buyer.pk, "buyer_name": quote(buyer.name.split(" ")[-1]), "siret": buyer.siret,
            "number": number, "today": today.isoformat(),
            "month_ago": (today - datetime.timedelta(days=30)).isoformat()}


def run(args) -> None:
    from_sizes = sorted(set(args.sizes))
    common.setup("pages")
    common.progress(args, "migrating the benchmark database")
    common.database(keep=args.keep)

    from django.urls import resolve

    from bench.generate import Generator
    from core.models import Account
    from invoicing.models import LegalDocument

    account = (args.keep and Account.objects.order_by("pk").first()) or common.account_create()
    users = common.users_create(account)
    clients = {role: common.client_for(user) for role, user in users.items()}
    generator = Generator(account, users["staff"])

    pages, notes = [], []
    for label, names, role, query in PAGES:
        url = _resolve(names)
        if url is None:
            notes.append(f"{label}: no URL named {' / '.join(names)} yet, skipped")
            continue
        view = resolve(url).func
        pages.append((label, url + (f"?{query}" if query else ""), role,
                      f"{view.__module__}.{view.__name__}"))

    results: dict[str, dict[int, dict]] = {label: {} for label, *_ in pages}
    sections = []
    generation = []
    values = None
    if args.keep:
        from invoicing.models import Invoice

        held = Invoice.objects.count()
        if any(size < held for size in from_sizes):
            notes.append(f"--keep: the database held {held:,} invoices; smaller sizes skipped")
            from_sizes = [size for size in from_sizes if size >= held] or [held]
    for size in from_sizes:
        common.progress(args, f"filling the database up to {size:,} invoices")
        seconds = generator.fill(size, progress=lambda m: common.progress(args, m))
        values = values or _query_values(account)
        generation.append({"invoices": size, "legal XML": LegalDocument.objects.count(),
                           "seconds to add": seconds})
        rows = []
        for label, url, role, _view in pages:
            url = url.format(**values)
            common.progress(args, f"  {label} ({url}) x{args.requests}")
            figures = _measure(clients[role], url, args.requests, args.warmup)
            results[label][size] = figures
            rows.append({"page": label, "url": url, "role": role, **figures})
        sections.append((f"{size:,} invoices", rows))

    small, large = from_sizes[0], from_sizes[-1]
    summary = []
    for label, _url, _role, view in pages:
        by_size = results[label]
        ratio = by_size[large]["median ms"] / by_size[small]["median ms"]
        queries = [by_size[s]["queries"] for s in from_sizes]
        constant = len(set(map(str, queries))) == 1
        middle = from_sizes[-2] if len(from_sizes) > 2 else small
        summary.append({
            "page": label, "view": view,
            f"median {small:,}": by_size[small]["median ms"],
            f"median {large:,}": by_size[large]["median ms"],
            # Beside the target's ratio, the last step alone: a page only partly filled at the
            # smallest size (few rows match) renders less there, which is not growth.
            f"ratio to {middle:,}": by_size[large]["median ms"] / by_size[middle]["median ms"],
            "ratio": ratio, f"ratio <= {TARGET}": "yes" if ratio <= TARGET else "NO",
            "queries by size": " / ".join(map(str, queries)),
            "constant": "yes" if constant else "NO",
        })
    sections.insert(0, (f"Summary: median({large:,}) / median({small:,}), target <= {TARGET}; "
                        "queries constant", summary))
    sections.append(("Data generated (bench/generate.py)", generation))
    common.report(
        "Pages against the data size (bench/pages.py)",
        args=args,
        settings={"database": common.database_label(),
                  "method": f"Django test client, {args.requests} timed requests per page after "
                            f"{args.warmup} warm-up; time = whole request (middleware, view, "
                            "template); queries counted per request",
                  "sizes": ", ".join(f"{s:,}" for s in from_sizes)},
        sections=sections,
        notes=notes,
        figures={"results": {label: {str(s): v for s, v in r.items()} for label, r in results.items()}},
    )


if __name__ == "__main__":
    main()
