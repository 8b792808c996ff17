"""The ThriveCart webhook: no login, no cookie, no CSRF; the Secret Word is the credential."""

from .views import bp

__all__ = ["bp"]
