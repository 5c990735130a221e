"""Fuzzing every HTTP endpoint against real servers (`make fuzz`; docs/security.md, "Fuzzing")."""
