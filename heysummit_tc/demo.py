"""A demo organiser and event, so that a newcomer has something to click through."""

from pathlib import Path

from sqlalchemy import select

from .models import User
from .services.accounts import create_user, generate_password
from .services.events import create_event
from .services.tickets import TicketFields, create_ticket

DEMO_EMAIL = "organiser@example.com"
DEMO_TICKETS = [
    ("All-Access Pass", "product-2", ["97.00", "197.00"]),
    ("Workbook bundle", "bump-2", ["19.00"]),
    ("VIP Day Pass", "upsell-3", ["147.00"]),
    ("Replays only", "downsell-5", ["33.00"]),
    ("Free ticket", None, []),
]


def seed_demo(session, instance_path):
    """Create the demo organiser (once) and a demo event; return the login to print."""
    login_file = Path(instance_path) / "demo-login.txt"
    user = session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is None:
        password = generate_password()
        user = create_user(session, DEMO_EMAIL, password)
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        login_file.write_text(f"{DEMO_EMAIL} {password}\n")
        login_file.chmod(0o600)
    event = create_event(session, "Remote Work Summit 2027", "USD", user)
    for name, external_id, prices in DEMO_TICKETS:
        create_ticket(session, event, TicketFields(name, external_id),
                      prices=[(p, "USD") for p in prices])
    return demo_login(instance_path) + f"\nDemo event: {event.name} (id {event.id})"


def demo_login(instance_path):
    """Return the demo login line, as written when the demo organiser was created."""
    login_file = Path(instance_path) / "demo-login.txt"
    if not login_file.exists():
        return "Demo login: (created before; reset with `flask users create`)"
    email, password = login_file.read_text().split()
    return f"Demo login: {email} / password: {password}"
