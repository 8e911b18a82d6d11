"""What an organisation looks like: its colours as CSS, shown by its pages and its widget."""

from sqlmodel import Session, select

from app.orgs.colours import text_on
from app.orgs.models import Organisation, Value


def theme_css(session: Session, org: Organisation) -> str:
    """The organisation's colours as CSS variables (CSP allows no inline styles)."""
    values = session.exec(select(Value).where(Value.org_id == org.id)).all()
    lines = [
        ":root {",
        f"  --primary: {org.theme_primary};",
        f"  --on-primary: {text_on(org.theme_primary)};",
        f"  --accent: {org.theme_accent};",
        f"  --on-accent: {text_on(org.theme_accent)};",
        "}",
    ]
    for v in values:
        lines.append(f".value-{v.id} {{ --value: {v.colour}; --on-value: {text_on(v.colour)}; }}")
    return "\n".join(lines) + "\n"
