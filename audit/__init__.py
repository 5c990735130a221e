"""The audit trail: one append-only record per change a shopper makes (refund, cancellation, address and contact
changes), each carrying the hash of the one before, so an edit, a deletion or a reordering is found by
`python -m audit verify`.

`records` defines a record and its hash, `store` keeps the chain in SQL, `spool` holds records the store could not
take, `trail` joins the two, `verify` checks a chain, `changes` says what each operation changed, `recorder` is the
action server's hook around a confirmed change, and `__main__` is the command line (`make audit`,
`make audit-verify`). Only `recorder` and `changes` import the action server's code.
"""
