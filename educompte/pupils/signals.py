"""Signals other apps listen to, so the pupils app needs not know them."""

from django.dispatch import Signal

# Sent with ``user_ids`` (pupil logins) whenever their credentials are replaced or their
# account is deactivated: listeners end what those credentials opened (e.g. SSO tokens).
credentials_revoked = Signal()
