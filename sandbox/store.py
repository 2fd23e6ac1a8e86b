"""SQLite persistence: one file in the data dir, WAL mode, one lock serialising every access.

Resources are stored as JSON documents (Decimals kept exact) next to the few columns that
queries need. Every change made inside `tx()` is committed atomically or not at all, so a
crash never leaves half an invoice. Ids come from one counter shared by every resource, like
the real service's large integers.
"""

import contextlib
import sqlite3
import threading
from pathlib import Path

from sandbox.jsonutil import dumps, loads

FIRST_ID = 1313228300

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, number TEXT NOT NULL,
    state TEXT NOT NULL, state_updated_at TEXT NOT NULL, state_changed REAL NOT NULL,
    date TEXT, ack_at TEXT, type TEXT, data TEXT NOT NULL, UNIQUE (account_id, number));
CREATE INDEX IF NOT EXISTS invoices_by_change ON invoices (account_id, state_updated_at, id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL, state TEXT NOT NULL,
    chorus_status TEXT, notes TEXT, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
    id INTEGER PRIMARY KEY, invoice_id INTEGER NOT NULL, filename TEXT NOT NULL,
    content BLOB NOT NULL, kind TEXT NOT NULL DEFAULT 'legal');
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, body TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt REAL NOT NULL,
    last_status INTEGER, last_error TEXT, created_at TEXT NOT NULL, delivered_at TEXT);
CREATE TABLE IF NOT EXISTS tax_reports (
    id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, invoice_id INTEGER, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt);
"""

# Indexed copies of invoice fields, in the order put_invoice writes them.
INVOICE_COLUMNS = ("account_id", "number", "state", "state_updated_at", "date", "ack_at", "type")


class Store:
    """The sandbox's database. Use `with store.tx() as db:` around every access."""

    def __init__(self, data_dir):
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path / "sandbox.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(attachments)")}
        if "kind" not in columns:  # a data dir from before supporting documents
            self._conn.execute(
                "ALTER TABLE attachments ADD COLUMN kind TEXT NOT NULL DEFAULT 'legal'")

    @contextlib.contextmanager
    def tx(self):
        """Hold the lock and run one transaction; nested calls join the outer one."""
        with self._lock:
            if self._conn.in_transaction:
                yield Db(self._conn)
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Db(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self):
        with self._lock:
            self._conn.close()


class Db:
    """Typed access to the tables, valid inside one `Store.tx()`."""

    def __init__(self, conn):
        self.conn = conn

    # -- meta and ids ------------------------------------------------------------------------
    def meta(self, key, default=None):
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else loads(row["value"])

    def set_meta(self, key, value):
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, dumps(value)),
        )

    def new_id(self):
        """A fresh id, never handed out before (the counter persists)."""
        value = self.meta("next_id", FIRST_ID)
        self.set_meta("next_id", value + 1)
        return value

    # -- documents ---------------------------------------------------------------------------
    def _doc(self, table, ident):
        row = self.conn.execute(f"SELECT data FROM {table} WHERE id = ?", (ident,)).fetchone()  # noqa: S608
        return None if row is None else loads(row["data"])

    def account(self, ident):
        return self._doc("accounts", ident)

    def accounts(self):
        rows = self.conn.execute("SELECT data FROM accounts ORDER BY id").fetchall()
        return [loads(r["data"]) for r in rows]

    def put_account(self, account):
        self.conn.execute(
            "INSERT OR REPLACE INTO accounts (id, data) VALUES (?, ?)",
            (account["id"], dumps(account)),
        )

    def contact(self, ident):
        return self._doc("contacts", ident)

    def contacts(self, account_id):
        rows = self.conn.execute(
            "SELECT data FROM contacts WHERE account_id = ? ORDER BY id", (account_id,)
        ).fetchall()
        return [loads(r["data"]) for r in rows]

    def put_contact(self, contact):
        self.conn.execute(
            "INSERT OR REPLACE INTO contacts (id, account_id, data) VALUES (?, ?, ?)",
            (contact["id"], contact["account_id"], dumps(contact)),
        )

    def delete_contact(self, ident):
        self.conn.execute("DELETE FROM contacts WHERE id = ?", (ident,))

    def invoice(self, ident):
        return self._doc("invoices", ident)

    def tax_report(self, ident):
        return self._doc("tax_reports", ident)

    def tax_reports(self, account_id):
        rows = self.conn.execute(
            "SELECT data FROM tax_reports WHERE account_id = ? ORDER BY id", (account_id,)
        ).fetchall()
        return [loads(r["data"]) for r in rows]

    def put_tax_report(self, report):
        self.conn.execute(
            "INSERT OR REPLACE INTO tax_reports (id, account_id, invoice_id, data) VALUES (?, ?, ?, ?)",
            (report["id"], report["account_id"], report.get("invoice_id"), dumps(report)),
        )

    def put_invoice(self, invoice, state_changed):
        """Insert or replace; `state_changed` is the epoch second of the last state change."""
        values = [invoice[c] for c in INVOICE_COLUMNS]
        self.conn.execute(
            "INSERT OR REPLACE INTO invoices (id, account_id, number, state, state_updated_at, "
            "date, ack_at, type, state_changed, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (invoice["id"], *values, state_changed, dumps(invoice)),
        )

    def invoice_changed_at(self, ident):
        row = self.conn.execute(
            "SELECT state_changed FROM invoices WHERE id = ?", (ident,)
        ).fetchone()
        return row["state_changed"]

    def delete_invoice(self, ident):
        self.conn.execute("DELETE FROM invoices WHERE id = ?", (ident,))

    def number_taken(self, account_id, number, except_id=None):
        row = self.conn.execute(
            "SELECT id FROM invoices WHERE account_id = ? AND number = ? AND id IS NOT ?",
            (account_id, number, except_id),
        ).fetchone()
        return row is not None

    def invoices(self, where, params, offset, limit, newest_first=False):
        """Invoices matching `where` (SQL on the indexed columns), ordered by state change
        (`newest_first`: by id, newest first). Returns (page, total_count).
        """
        clause = " AND ".join(where) or "1"
        total = self.conn.execute(
            f"SELECT COUNT(*) FROM invoices WHERE {clause}", params  # noqa: S608
        ).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT data FROM invoices WHERE {clause} "  # noqa: S608
            + ("ORDER BY id DESC" if newest_first else "ORDER BY state_updated_at, id")
            + " LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [loads(r["data"]) for r in rows], total

    def invoices_in_states(self, states, changed_before):
        """Ids of invoices in one of `states` whose last change is at or before the epoch given."""
        marks = ",".join("?" * len(states))
        rows = self.conn.execute(
            f"SELECT id FROM invoices WHERE state IN ({marks}) AND state_changed <= ? "  # noqa: S608
            "ORDER BY state_changed, id",
            (*states, changed_before),
        ).fetchall()
        return [r["id"] for r in rows]

    # -- events and attachments --------------------------------------------------------------
    def add_event(self, event):
        self.conn.execute(
            "INSERT INTO events (id, invoice_id, state, chorus_status, notes, at) "
            "VALUES (:id, :invoice_id, :state, :chorus_status, :notes, :at)",
            event,
        )

    def events(self, invoice_id):
        rows = self.conn.execute(
            "SELECT * FROM events WHERE invoice_id = ? ORDER BY id", (invoice_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    def add_attachment(self, ident, invoice_id, filename, content, kind="legal"):
        """`kind`: "legal" (the legal XML), "supporting" (a document the supplier joined) or
        "pdf_view" (the supplier's own PDF of the invoice)."""
        self.conn.execute(
            "INSERT INTO attachments (id, invoice_id, filename, content, kind) "
            "VALUES (?, ?, ?, ?, ?)",
            (ident, invoice_id, filename, content, kind),
        )

    def attachments_of(self, invoice_id, kinds=("supporting", "pdf_view")):
        marks = ",".join("?" * len(kinds))
        rows = self.conn.execute(
            f"SELECT * FROM attachments WHERE invoice_id = ? AND kind IN ({marks}) "  # noqa: S608
            "ORDER BY id", (invoice_id, *kinds)).fetchall()
        return [dict(r) for r in rows]

    def attachment(self, ident):
        row = self.conn.execute("SELECT * FROM attachments WHERE id = ?", (ident,)).fetchone()
        return None if row is None else dict(row)

    # -- webhook deliveries ------------------------------------------------------------------
    def add_delivery(self, event_id, body, now, created_at):
        self.conn.execute(
            "INSERT INTO deliveries (event_id, body, status, attempts, next_attempt, created_at) "
            "VALUES (?, ?, 'pending', 0, ?, ?)",
            (event_id, body, now, created_at),
        )

    def due_deliveries(self, now):
        rows = self.conn.execute(
            "SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt <= ? "
            "ORDER BY next_attempt, id",
            (now,),
        ).fetchall()
        return [dict(r) for r in rows]

    def next_delivery_at(self):
        row = self.conn.execute(
            "SELECT MIN(next_attempt) FROM deliveries WHERE status = 'pending'"
        ).fetchone()
        return row[0]

    def update_delivery(self, ident, **fields):
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(
            f"UPDATE deliveries SET {sets} WHERE id = ?", (*fields.values(), ident)  # noqa: S608
        )

    def deliveries(self):
        rows = self.conn.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
        return [dict(r) for r in rows]
