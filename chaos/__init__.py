"""`make chaos`: a steady load through nginx on the cluster (cluster/) while faults are injected one at a time,
and a table per fault of what the shoppers saw (docs/reliability.md)."""
