"""The demo shop: a real HTTP service standing in for a retailer's CRM, order, payment and helpdesk
systems. It implements the v1 backend contract (docs/architecture.md), so the assistant, its tests and
anyone trying it talk to the same API a retailer would put behind the clients."""
