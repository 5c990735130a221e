"""Rasa tracker and lock stores of this project, named by module path in `endpoints.yml`.

They keep the contracts and the storage formats of Rasa's own SQL tracker store and Redis lock store (the
same tables, the same keys), so a deployment can switch to them and back without migrating data; they only
do fewer round trips per turn (docs/performance.md).
"""
