"""`python -m privacy purge|export|delete`: the 12 months of retention the privacy FAQ promises, and a
customer's right to a copy of their conversations and to their erasure (`make purge`, `make gdpr-export
CUSTOMER=C1001`, `make gdpr-delete CUSTOMER=C1001`).

Each acts on whole conversations in both the tracker store and the SQL event broker (privacy/conversations.py;
databases from PRIVACY_TRACKER_DB_URL and PRIVACY_EVENTS_DB_URL, retention CHAT_RETENTION_DAYS); purge and
delete also remove those conversations from the analytics store (ANALYTICS_DATABASE_URL, by their reference).
Export and delete also reach the customer's helpdesk tickets (privacy/tickets.py; PRIVACY_TICKETS=false
leaves them out): the export holds them, the delete erases them. `--dry-run` says what would be deleted and
deletes nothing. A running Rasa keeps the conversations it served recently in memory until they end
(conversation_stores/tracker_store.py): run `delete` with the stack stopped, or expect an active conversation to
go on from memory (its earlier rows stay deleted). What else holds a customer's data, and what is kept by law:
docs/privacy.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from actions.backends import BackendError
from analytics.settings import AnalyticsSettings
from analytics.store import AnalyticsStore
from foundation.conversation_ref import conversation_ref
from foundation.settings import SettingsError
from privacy.conversations import EventTable, conversations_of, event_of, expired
from privacy.settings import PrivacySettings
from privacy.tickets import CustomerTickets

DAY = 86400.0


def parser() -> argparse.ArgumentParser:
    """The command line: `purge`, `export` and `delete`."""
    cli = argparse.ArgumentParser(prog="python -m privacy", description=__doc__.splitlines()[0])
    commands = cli.add_subparsers(dest="command", required=True)
    purge = commands.add_parser("purge", help="delete the conversations whose latest event is past the retention")
    purge.add_argument("--days", type=int, help="retention in days (default: CHAT_RETENTION_DAYS, 365)")
    purge.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    export = commands.add_parser("export", help="a customer's conversations as JSON")
    export.add_argument("--customer", required=True, help="the CRM id (C1001)")
    export.add_argument("--out", type=Path, help="write the JSON here (default: standard output)")
    delete = commands.add_parser("delete", help="delete a customer's conversations")
    delete.add_argument("--customer", required=True, help="the CRM id (C1001)")
    delete.add_argument("--dry-run", action="store_true", help="say what would be deleted, delete nothing")
    return cli


def tables(settings: PrivacySettings) -> list[EventTable]:
    """The tracker store's table first and, when there is one, the SQL event broker's (databases without an
    `events` table are left out)."""
    found = [EventTable.at(settings.tracker_db_url, timed=True)]
    if settings.events_db_url:
        found.append(EventTable.at(settings.events_db_url, timed=False))
    return [table for table in found if table is not None]


def export(found: list[EventTable], customer: str, tickets: CustomerTickets | None = None) -> dict:
    """The customer's conversations, each with its events as stored (the tracker store's copy when there is one,
    which holds every event; else the broker's), and their helpdesk tickets (`tickets`, when they are reached)."""
    senders = conversations_of(found, customer)
    source = next((events for events in found if events.timed), found[0] if found else None)
    return {
        "customer": customer,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "conversations": [
            {"conversation": sender, "events": [event_of(row) for row in source.rows([sender])] if source else []}
            for sender in sorted(senders)
        ],
        **({"tickets": tickets.export(customer)} if tickets is not None else {}),
    }


def remove(found: list[EventTable], senders: set[str], dry_run: bool) -> dict[str, int]:
    """Delete the senders' rows from every table (or count them), and their conversations from the analytics
    store when there is one; rows (the analytics: conversations) per database."""
    counts = {}
    for events in found:
        name = str(events.engine.url.render_as_string(hide_password=True))
        counts[name] = sum(1 for _ in events.rows(senders)) if dry_run else events.delete(senders)
    analytics = analytics_store()
    if analytics is not None:
        try:
            refs = [conversation_ref(sender) for sender in senders]
            counts["analytics (conversations)"] = analytics.forget(refs, dry_run=dry_run)
        finally:
            analytics.close()
    return counts


def analytics_store() -> AnalyticsStore | None:
    """The analytics store (ANALYTICS_DATABASE_URL), when its database exists: nothing is created to be emptied."""
    url = make_url(AnalyticsSettings.current().database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return None
    return AnalyticsStore(url.render_as_string(hide_password=False))


def report(
    action: str, senders: set[str], counts: dict[str, int], dry_run: bool, tickets: list[int] | None = None
) -> None:
    """What was (or would be) deleted, naming conversations by their reference, never by their id, and the
    helpdesk tickets erased by their number."""
    verb = "would delete" if dry_run else "deleted"
    print(f"{action}: {verb} {len(senders)} conversation(s)")
    for database, rows in counts.items():
        print(f"  {database}: {rows} row(s)")
    for sender in sorted(conversation_ref(sender) for sender in senders):
        print(f"  conversation {sender}")
    if tickets is not None:
        print(f"  helpdesk: {'would erase' if dry_run else 'erased'} {len(tickets)} ticket(s)")
        for ticket_id in tickets:
            print(f"  ticket #{ticket_id}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 2 for a bad setting or argument, 1 when a database does not answer."""
    args = parser().parse_args(argv)
    try:
        settings = PrivacySettings.from_env()
    except SettingsError as problem:
        print(f"python -m privacy: {problem}", file=sys.stderr)
        return 2
    found = []
    try:
        found = tables(settings)
        if args.command == "purge":
            days = args.days if args.days is not None else settings.retention_days
            if days < 1:
                print("python -m privacy: --days must be at least 1", file=sys.stderr)
                return 2
            senders = expired(found, time.time() - days * DAY)
            report(f"purge (older than {days} days)", senders, remove(found, senders, args.dry_run), args.dry_run)
        elif args.command == "export":
            document = export(found, args.customer, CustomerTickets.from_env() if settings.tickets else None)
            text = json.dumps(document, indent=2, ensure_ascii=False)
            if args.out:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(text + "\n")
                print(f"export: {len(document['conversations'])} conversation(s) of {args.customer} -> {args.out}")
            else:
                print(text)
        else:
            senders = conversations_of(found, args.customer)
            # The tickets first: a helpdesk that does not answer stops the delete before anything is gone, so
            # running it again does the whole of it.
            erased = CustomerTickets.from_env().erase(args.customer, dry_run=args.dry_run) if settings.tickets else None
            counts = remove(found, senders, args.dry_run)
            report(f"delete ({args.customer})", senders, counts, args.dry_run, erased)
    except SQLAlchemyError as error:
        print(f"python -m privacy: the database did not answer: {error}", file=sys.stderr)
        return 1
    except BackendError as error:
        print(f"python -m privacy: the helpdesk did not answer: {error}", file=sys.stderr)
        return 1
    finally:
        for events in found:
            events.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
