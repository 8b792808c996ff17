"""Business logic: plain functions with a session and explicit arguments; callers commit."""


class ServiceError(Exception):
    """A request the domain refuses; the message is meant for the person who made it."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field
