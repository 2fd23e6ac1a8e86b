"""How the back office's pages answer as invoices pile up: 1 000, 100 000, 1 000 000 of them.

    .venv/bin/python bench/pages.py [--sizes 1000,100000,1000000] [--requests 20] [--json]

For each size the bulk generator (`bench/generate.py`) fills a database of its own
(`bench_pages_<size>`; `--keep` reuses them). Then every page is requested `--requests` times at
every size, signed in as a user of the page's role, in `--rounds` rounds that visit every size
(each size's turn starts with `--warmup` untimed requests): a slow spell of the machine falls on
all sizes alike. Printed per size: the median and p95 server time and the SQL queries per
request; then, per page, the ratio median(largest) / median(smallest) (target <= 1.3) and
whether the query count stayed constant (target: yes).

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
    ("aged balance", ["finance:balance"], "finance", ""),
    ("aged balance, companies", ["finance:balance"], "finance", "kind=company"),
    ("one buyer's figures", ["finance:buyer_figures"], "finance", "buyer={buyer}"),
    ("accounting entries, a month (FEC)", ["finance:books"], "finance",
     "account={account}&start={month_ago}&end={today}&download=1"),
]


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=common.int_list, default=[1000, 100_000, 1_000_000],
                   help="invoice counts, comma-separated")
    p.add_argument("--requests", type=int, default=20, help="timed requests per page and size")
    p.add_argument("--rounds", type=int, default=5,
                   help="the requests of each page are made in this many rounds, every size in "
                        "each round")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed requests at each size's turn in a round (the first connects)")
    p.add_argument("--keep", action="store_true",
                   help="reuse the databases a previous run filled (bench_pages_<size>), adding "
                        "only what a size lacks")
    p.add_argument("--pages", default="",
                   help="only the pages whose label contains one of these words, comma-separated")
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


class _Figures:
    """One page's requests at one size, gathered over the rounds."""

    def __init__(self):
        self.times, self.counts, self.statuses, self.size, self.rows = [], set(), set(), 0, 0

    def measure(self, client, url: str, requests: int, warmup: int) -> None:
        for index in range(warmup + requests):
            with common.QueryCounter() as queries:
                started = time.perf_counter()
                response = client.get(url)
                if getattr(response, "streaming", False):
                    body = b"".join(response.streaming_content)
                else:
                    body = response.content
                elapsed = time.perf_counter() - started
            if index >= warmup:
                self.times.append(elapsed * 1000)
                self.counts.add(queries.count)
                self.statuses.add(response.status_code)
                # Table rows shown (headers included): a page with fewer rows renders less.
                self.size, self.rows = len(body), body.count(b"<tr")

    def summary(self) -> dict:
        counts = self.counts
        return {"median ms": common.median(self.times),
                "p95 ms": common.percentile(self.times, 0.95),
                "queries": next(iter(counts)) if len(counts) == 1 else f"{min(counts)}-{max(counts)}",
                "status": ",".join(str(s) for s in sorted(self.statuses)), "KB": self.size / 1024,
                "rows": self.rows}


def _query_values(account) -> dict:
    """A buyer (the generator's second customer by volume, an eighth of the invoices), one
    invoice number known at every size (the 500th invoice), the last month."""
    import datetime
    from urllib.parse import quote

    from directory.models import Buyer
    from invoicing.models import Invoice

    buyer = Buyer.objects.filter(account=account).order_by("pk")[1]
    numbers = Invoice.objects.filter(account=account).order_by("pk").values_list("number", flat=True)
    number = list(numbers[:500])[-1]  # the 500th (the last of a smaller database)
    today = datetime.date.today()
    return {"account": account.pk, "buyer": buyer.pk, "buyer_name": quote(buyer.name.split(" ")[-1]), "siret": buyer.siret,
            "number": number, "today": today.isoformat(),
            "month_ago": (today - datetime.timedelta(days=30)).isoformat()}


def run(args) -> None:
    from_sizes = sorted(set(args.sizes))
    common.setup("pages")

    import datetime

    from django.db import connection
    from django.urls import resolve
    from django.utils import timezone

    from bench.generate import Generator
    from core.models import Account
    from invoicing.models import LegalDocument, UserActivity

    # One database per size, each filled to its size, kept side by side: the pages are then
    # requested at every size in turn, round after round, so that a slow spell of the machine
    # falls on all sizes alike rather than on the one being measured then.
    sizes: dict[int, dict] = {}
    generation = []
    for size in from_sizes:
        common.progress(args, f"the database of {size:,} invoices: migrating")
        common.database(keep=args.keep, suffix=str(size))
        account = (args.keep and Account.objects.order_by("pk").first()) or common.account_create()
        users = common.users_create(account)
        common.progress(args, f"filling it up to {size:,} invoices")
        seconds = Generator(account, users["staff"]).fill(
            size, progress=lambda m: common.progress(args, m))
        generation.append({"invoices": size, "legal XML": LegalDocument.objects.count(),
                           "seconds to add": seconds})
        # Every user last saw the dashboard a day ago, at every size and run (a kept database
        # remembers the last run's visit): the news panel reads the same way everywhere.
        for user in users.values():
            UserActivity.objects.update_or_create(
                user=user, defaults={"dashboard_seen_at": timezone.now() - datetime.timedelta(days=1)})
        sizes[size] = {"database": connection.settings_dict["NAME"],
                       "clients": {role: common.client_for(user) for role, user in users.items()},
                       "values": _query_values(account)}

    pages, notes = [], []
    wanted = [word.strip() for word in args.pages.split(",") if word.strip()]
    for label, names, role, query in PAGES:
        if wanted and not any(word in label for word in wanted):
            continue
        url = _resolve(names)
        if url is None:
            notes.append(f"{label}: no URL named {' / '.join(names)} yet, skipped")
            continue
        view = resolve(url).func
        pages.append((label, url + (f"?{query}" if query else ""), role,
                      f"{view.__module__}.{view.__name__}"))

    rounds = max(1, args.rounds)
    per_round = max(1, -(-args.requests // rounds))
    results: dict[str, dict[int, dict]] = {label: {} for label, *_ in pages}
    urls = {label: {size: url.format(**sizes[size]["values"]) for size in from_sizes}
            for label, url, _role, _view in pages}
    for label, url, role, _view in pages:
        figures = {size: _Figures() for size in from_sizes}
        common.progress(args, f"{label} ({url}) x{per_round * rounds} at each size")
        for turn in range(rounds):
            shift = turn % len(from_sizes)  # each size first in turn
            for size in from_sizes[shift:] + from_sizes[:shift]:
                common.database_switch(sizes[size]["database"])
                figures[size].measure(sizes[size]["clients"][role], urls[label][size],
                                      per_round, args.warmup)
        for size in from_sizes:
            results[label][size] = figures[size].summary()
    sections = [(f"{size:,} invoices",
                 [{"page": label, "url": urls[label][size], "role": role,
                   **results[label][size]} for label, _url, role, _view in pages])
                for size in from_sizes]

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
        settings={"databases": ", ".join(sizes[size]["database"] for size in from_sizes),
                  "method": f"Django test client; per page and size {per_round * rounds} timed "
                            f"requests in {rounds} rounds, every size in each round (its "
                            f"{args.warmup} untimed first); time = whole request (middleware, "
                            "view, template); queries counted per request",
                  "sizes": ", ".join(f"{s:,}" for s in from_sizes)},
        sections=sections,
        notes=notes,
        figures={"results": {label: {str(s): v for s, v in r.items()} for label, r in results.items()}},
    )


if __name__ == "__main__":
    main()
