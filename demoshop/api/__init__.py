"""One blueprint per backend system of the v1 contract."""
