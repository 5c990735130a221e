"""`python -m audit list [--customer C1001] [--since 2026-12-01]` prints the audit records as a table;
`python -m audit verify` checks the hash chain and exits 1 naming the first broken record (`make audit`,
`make audit-verify`); `python -m audit flush` appends what waits in the local spool. All read
AUDIT_DATABASE_URL and AUDIT_SPOOL_PATH (.env.example)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from tabulate import tabulate

from audit.records import AuditRecord, canonical_json, time_text
from audit.settings import AuditSettings
from audit.spool import Spool
from audit.store import AuditStore
from audit.verify import verify_chain
from foundation.settings import SettingsError

COLUMNS = [
    "seq",
    "recorded at (UTC)",
    "customer",
    "channel",
    "conversation",
    "what",
    "outcome",
    "idempotency key",
    "before",
    "after",
]


def since_text(value: str) -> str:
    """An ISO date or date and time (UTC unless it says otherwise) as `recorded_at` text."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        return time_text(datetime.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date and time: {value!r}") from None


def parser() -> argparse.ArgumentParser:
    """The command line: `list` and `verify`."""
    cli = argparse.ArgumentParser(prog="python -m audit", description="The audit trail of shoppers' changes.")
    commands = cli.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the records as a table, oldest first")
    listing.add_argument("--customer", help="only this customer's records (a CRM id such as C1001)")
    listing.add_argument("--since", type=since_text, help="only records from this UTC date or time on")
    commands.add_parser("verify", help="check the hash chain; exit 1 naming the first broken record")
    commands.add_parser("flush", help="append the changes waiting in this host's spool now")
    return cli


def table_row(record: AuditRecord) -> list[str]:
    """One line of `list`: who, what, when, the outcome, the key, before and after as compact JSON."""
    change = record.change
    return [
        str(record.seq),
        change.recorded_at,
        change.customer_id or "",
        change.channel or "",
        change.conversation,
        change.what,
        change.outcome,
        change.idempotency_key or "",
        "" if change.before is None else canonical_json(change.before),
        "" if change.after is None else canonical_json(change.after),
    ]


def list_records(store: AuditStore, customer: str | None, since: str | None) -> int:
    """Print the records that match; 0."""
    rows = [table_row(record) for record in store.records(customer_id=customer, since=since)]
    print(tabulate(rows, headers=COLUMNS) if rows else "no audit records")
    return 0


def verify(store: AuditStore, spool: Spool) -> int:
    """Print whether the chain is intact; 0 when it is, 1 naming the first broken record."""
    verdict = verify_chain(store.records(), store.head())
    waiting = spool.pending()
    if waiting:
        print(f"{waiting} change(s) wait in the local spool {spool.path} for the next append")
    if verdict.broken:
        print(f"audit trail BROKEN at {verdict.broken}")
        return 1
    print(f"audit trail intact: {verdict.checked} records, last hash {verdict.last_hash}")
    return 0


def flush(store: AuditStore, spool: Spool) -> int:
    """Append the spooled changes (the action server does so at its next append); 0."""
    print(f"{spool.drain(store.append)} spooled change(s) appended, {spool.pending()} waiting")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 2 when the settings or the database cannot be used."""
    arguments = parser().parse_args(argv)
    try:
        settings = AuditSettings.from_env()
    except SettingsError as problem:
        print(problem, file=sys.stderr)
        return 2
    store = AuditStore(settings.database_url)
    try:
        if arguments.command == "list":
            return list_records(store, arguments.customer, arguments.since)
        if arguments.command == "flush":
            return flush(store, Spool(settings.spool_path))
        return verify(store, Spool(settings.spool_path))
    except SQLAlchemyError as error:
        print(f"the audit store cannot be read (AUDIT_DATABASE_URL): {type(error).__name__}", file=sys.stderr)
        return 2
    finally:
        store.dispose()


if __name__ == "__main__":
    sys.exit(main())
