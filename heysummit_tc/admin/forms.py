"""Forms of the organiser pages (every one carries a CSRF token), and how a view submits one.

The transaction rule, view side: a view validates its form and calls one service through
:func:`submit`, which commits once on success, or rolls back and shows the service's error
on the form (the view then answers 400 with the form). Services flush and never commit;
the few that process deliveries or send email own their transactions and say so.
"""

from flask import flash
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..extensions import db
from ..models import PurchaseStatus
from ..services import ServiceError
from ..services.search import SHORT_HELP
from ..thrivecart.items import ACCEPTED_FORMATS, ITEM_TYPES


def submit(form, action):
    """Run ``action`` (one service call) once ``form`` validates: commit and return
    (True, its result); on a ServiceError roll back, show it and return (False, None)."""
    if not form.validate_on_submit():
        return False, None
    try:
        result = action()
    except ServiceError as error:
        db.session.rollback()
        show_error(form, error)
        return False, None
    db.session.commit()
    return True, result


def show_error(form, error):
    """Show a domain error next to its field, or as a flash when the form has no such field."""
    if error.field and form is not None and error.field in form:
        form[error.field].errors = [*form[error.field].errors, error.message]
    else:
        flash(error.message, "error")


def status_of(*forms):
    """The status a page with these forms answers: 400 once one of them has errors."""
    return 400 if any(form is not None and form.errors for form in forms) else 200


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class EventForm(FlaskForm):
    name = StringField("Event name", validators=[DataRequired(), Length(max=200)])
    currency = StringField(
        "Currency", default="USD", validators=[DataRequired(), Length(min=3, max=3)],
        description="ISO 4217 code of the currency tickets are sold in, e.g. USD, EUR, GBP.",
    )


class EventDetailsForm(EventForm):
    """The event form once the event exists: its name and currency, and what buyers see."""

    timezone = StringField(
        "Timezone", default="UTC", validators=[Length(max=64)],
        description="An IANA name such as Europe/London or America/New_York. Every time on "
                    "these pages is shown in it (UTC on hover); the CSV stays in UTC.",
        render_kw={"list": "timezones", "autocomplete": "off"},
    )
    # Not ``starts_at``: the form holds the start as typed, in the event's timezone.
    starts = StringField(
        "Starts", validators=[Optional(), Length(max=20)],
        description="Date and time in the event's timezone, shown to buyers on their "
                    "access page.",
        render_kw={"type": "datetime-local"},
    )
    joining_instructions = TextAreaField(
        "Joining instructions", validators=[Optional(), Length(max=5000)],
        description="How buyers get in (a link, a password, where to look): shown on their "
                    "access page.",
        render_kw={"rows": 5},
    )




class TicketForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    external_id = StringField(
        "External ID",
        # Long enough for pasted URLs: nothing typed is ever cut (the form says what is wrong).
        validators=[Optional(), Length(max=2000)],
        description=(
            f"The ThriveCart item this ticket stands for: {ACCEPTED_FORMATS}. Or paste the "
            "item's URL from ThriveCart's editor, or just its number (the number at the end "
            "of that URL) with its type beside. Several, comma-separated, when ThriveCart "
            "sells this ticket more than one way (product-2, downsell-5). Leave empty if "
            "ThriveCart does not sell this ticket."
        ),
    )
    item_type = SelectField(
        "Item type", choices=[SelectChoice(kind, kind.title()) for kind in ITEM_TYPES],
        default="product",
        description="For a number or a product URL: a bump has the id of its product.",
    )
    active = BooleanField(
        "Active", default=True,
        description="Inactive tickets are not granted by ThriveCart orders.",
    )
    on_payment_failed = RadioField(
        "When a subscription or payment-plan payment fails",
        choices=[SelectChoice("keep", "Keep access (a grace period until it is paid or cancelled)"),
                 SelectChoice("suspend", "Suspend access until the next payment succeeds")],
        default="keep",
        description="ThriveCart's order.rebill_failed: a renewal or instalment was declined.",
    )
    on_cancel = RadioField(
        "When a subscription is cancelled",
        choices=[
            SelectChoice("keep", "Keep access for good"),
            SelectChoice("period_end", "Keep access until the end of the period already paid for"),
            SelectChoice("now", "End access at once"),
        ],
        default="keep",
        description="ThriveCart's order.subscription_cancelled. Refunds always end access.",
    )


class PriceForm(FlaskForm):
    amount = StringField(
        "Amount", validators=[DataRequired(), Length(max=20)],
        description="In major units, e.g. 97.00.",
    )
    currency = StringField("Currency", validators=[DataRequired(), Length(min=3, max=3)])


class LinkItemForm(FlaskForm):
    """Add an item ThriveCart sent to a ticket's External IDs."""

    external_id = StringField("Item", validators=[DataRequired(), Length(max=200)])
    ticket_id = SelectField("Ticket", coerce=int, validators=[DataRequired()])


class AttendeeForm(FlaskForm):
    first_name = StringField("First name", validators=[Optional(), Length(max=200)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=200)])
    email = StringField("Email", validators=[Optional(), Length(max=254)])


class GrantForm(FlaskForm):
    ticket_id = SelectField("Ticket", coerce=int, validators=[Optional()])


class ResolveForm(FlaskForm):
    note = TextAreaField(
        "How it was resolved", validators=[Optional(), Length(max=500)],
        description="Kept with the delivery and in the activity log, e.g. “refunded in "
                    "ThriveCart by hand”.",
        render_kw={"rows": 3},
    )


class ItemForm(FlaskForm):
    """A button acting on one item of the inbox: re-run, create its ticket, ignore, restore."""

    external_id = StringField("Item", validators=[DataRequired(), Length(max=200)])


class AccessEmailForm(FlaskForm):
    enabled = BooleanField("Send buyers an access email")
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    body = TextAreaField("Body", validators=[DataRequired(), Length(max=10000)],
                         render_kw={"rows": 12})


ROLE_CHOICES = [SelectChoice("ticket_editor", "Ticket editor: Revenue › Tickets only"),
                SelectChoice("organiser", "Organiser: everything, including the team")]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class MemberForm(FlaskForm):
    email = EmailField("Email", filters=[_strip],
                       validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="ticket_editor")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)],
                             description="At least 10 characters.")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=1024)])
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)],
                             description="At least 10 characters. Your other sessions end.")


class AlertsForm(FlaskForm):
    alert_event_ids = SelectMultipleField(
        "Email me alerts for", coerce=int, widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(), validate_choice=True,
        description="At most one email an hour per event: failed deliveries, items no ticket "
                    "links, payment failures, posts with a wrong Secret Word, and silence.")


class SecretWordForm(FlaskForm):
    secret_word = PasswordField(
        "Secret Word",
        validators=[Optional(), Length(max=200)],
        description=(
            "In ThriveCart: Settings > API & Webhooks > ThriveCart order validation. "
            "Copy the Secret Word and paste it here."
        ),
    )


class AttendeeSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=254)], description=SHORT_HELP)
    status = SelectField(
        "Status", validators=[Optional()],
        choices=[SelectChoice("", "Any status")] + [
            SelectChoice(status.value, status.replace("_", " ").capitalize())
            for status in PurchaseStatus],
    )


class TestPurchaseForm(FlaskForm):
    ticket_id = SelectField("Ticket", coerce=int,
                            description="Only tickets with an External ID can be bought in "
                                        "ThriveCart.")
    email = EmailField("Buyer email", validators=[DataRequired(), Email(), Length(max=254)],
                       description="Use an address you can check, as for a real test order.")
    first_name = StringField("First name", validators=[Optional(), Length(max=200)])
    last_name = StringField("Last name", validators=[Optional(), Length(max=200)])
