"""The finance ZIP export of archived legal XML: wall time and peak memory by number of files.

    .venv/bin/python bench/zip_export.py [--sizes 1000,10000] [--json]

For each size (in increasing order, each adding to the last) the archive holds that many legal
XML files (UBL invoices from the sandbox's own builder, ~8 KB each), and the finance user
downloads the whole archive (`finance:archive_zip`, a StreamingHttpResponse) through Django's
test client, in a fresh process each time, so that its peak RSS is the export's alone. The ZIP
is written to `var/bench/zip_export/export.zip` and its entries counted.

Printed: wall time, MB/s, peak RSS above the process's baseline (VmHWM) and the tracemalloc
peak of a second, traced export; memory must not grow with the number of files.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from bench import common  # noqa: E402


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=common.int_list, default=[1000, 10_000],
                   help="numbers of archived files, comma-separated")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    common.main_guard(lambda: run(args))


def _status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (its peak) of this process, from /proc (Linux). Unlike
    ru_maxrss, VmHWM does not carry over the parent's peak through fork and exec, and it can be
    reset (`_reset_peak`)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _export(client, url: str, sink) -> tuple[int, int]:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    written = chunks = 0
    for chunk in response.streaming_content:
        sink.write(chunk)
        written += len(chunk)
        chunks += 1
    response.close()
    return written, chunks


class _Discard:
    def write(self, data) -> int:
        return len(data)


def child(args) -> None:
    """One measurement in a fresh process: prints a JSON line."""
    import tracemalloc
    import zipfile

    var_dir = common.setup("zip_export")
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from invoicing.models import LegalDocument

    url = reverse("finance:archive_zip")
    client = common.client_for(get_user_model().objects.get(username="bench-finance"))
    _export(client, url + "?date_from=2999-01-01", _Discard())  # imports, first queries
    _reset_peak()
    baseline = _status_mb("VmRSS")
    target = var_dir / "export.zip"
    with open(target, "wb") as sink:
        started = time.perf_counter()
        written, chunks = _export(client, url, sink)
        elapsed = time.perf_counter() - started
    peak = _status_mb("VmHWM")
    with zipfile.ZipFile(target) as archive:
        entries = len(archive.namelist())
    tracemalloc.start()
    _export(client, url, _Discard())
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({
        "files": LegalDocument.objects.count(), "zip entries": entries, "seconds": elapsed,
        "zip MB": written / 1024 / 1024, "chunks": chunks,
        "baseline RSS MB": baseline, "peak RSS MB": peak, "RSS growth MB": peak - baseline,
        "tracemalloc peak MB": traced_peak / 1024 / 1024,
    }))


def run(args) -> None:
    common.setup("zip_export")
    common.progress(args, "migrating the benchmark database")
    common.database()

    from bench.generate import Generator

    account = common.account_create()
    users = common.users_create(account)
    generator = Generator(account, users["staff"], state="paid")
    rows = []
    for size in sorted(set(args.sizes)):
        common.progress(args, f"archive up to {size:,} legal XML files")
        generator.fill(size, progress=lambda m: common.progress(args, m))
        common.progress(args, f"exporting {size:,} files (fresh process)")
        answer = subprocess.run([sys.executable, __file__, "--child"], capture_output=True,
                                text=True, env=os.environ.copy(), cwd=common.REPO, check=False)
        if answer.returncode != 0:
            raise RuntimeError(f"export of {size} files failed:\n{answer.stderr[-3000:]}")
        figures = json.loads(answer.stdout.strip().splitlines()[-1])
        figures["MB/s"] = figures["zip MB"] / figures["seconds"]
        figures["files/s"] = figures["files"] / figures["seconds"]
        rows.append(figures)
    notes = []
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        extra = last["files"] - first["files"]
        growth = last["tracemalloc peak MB"] - first["tracemalloc peak MB"]
        notes.append(
            f"from {first['files']:,} to {last['files']:,} files the traced peak grew by "
            f"{growth:.2f} MB ({growth * 1024 * 1024 / extra:.0f} bytes per extra file) and the "
            f"RSS growth by {last['RSS growth MB'] - first['RSS growth MB']:.1f} MB; the export "
            "keeps only a 4-byte CRC per file between its two passes (finance/zipstream.py)")
    common.report(
        "ZIP export of the legal XML archive (bench/zip_export.py)",
        args=args,
        settings={"database": common.database_label(),
                  "method": "finance:archive_zip through Django's test client, streamed to a "
                            "file; one fresh process per size"},
        sections=[("Export", [{k: r[k] for k in (
            "files", "zip entries", "seconds", "files/s", "zip MB", "MB/s", "baseline RSS MB",
            "peak RSS MB", "RSS growth MB", "tracemalloc peak MB")} for r in rows])],
        notes=notes,
        figures={"rows": rows},
    )


if __name__ == "__main__":
    main()
