"""`make codes`: the emails and SMS the demo shop "sent" (one-time codes, invoices), newest first."""

from __future__ import annotations

import os
import sys

import requests


def main() -> int:
    base = os.environ.get("DEMOSHOP_URL", f"http://127.0.0.1:{os.environ.get('DEMOSHOP_PORT', '8081')}")
    key = os.environ.get("DEMOSHOP_API_KEY", "demoshop-dev-key")
    try:
        response = requests.get(f"{base}/v1/outbox", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        response.raise_for_status()
    except requests.RequestException as exc:
        print(
            f"error: cannot read the demo shop's outbox at {base}: {exc}. Is it running (make demoshop)?",
            file=sys.stderr,
        )
        return 1
    messages = response.json()["messages"]
    if not messages:
        print("The outbox is empty: nothing sent yet.")
    for m in messages[:10]:
        print(f"{m['created_at']}  to {m['destination']} ({m['channel']}): {m['body']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
