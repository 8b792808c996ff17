"""Users and their membership of events."""

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class Role(enum.StrEnum):
    ORGANISER = "organiser"
    TICKET_EDITOR = "ticket_editor"

    @property
    def label(self):
        return "Organiser" if self is Role.ORGANISER else "Ticket editor"


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Changes whenever the password does, so that old sessions stop working.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list["EventMember"]] = relationship(back_populates="user")

    def get_id(self):
        return f"{self.id}:{self.session_token}"


class EventMember(Base):
    __tablename__ = "event_members"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="member_role", values_callable=lambda roles: [r.value for r in roles],
             native_enum=False, length=20, validate_strings=True,
             create_constraint=True)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    event: Mapped["Event"] = relationship(back_populates="members")  # noqa: F821
