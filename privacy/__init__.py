"""Retention and the data-subject rights of the GDPR over the conversation stores (`python -m privacy`)."""
