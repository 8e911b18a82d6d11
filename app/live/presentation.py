"""Labels the live pages show for states and kinds."""

from app.errors import N_
from app.live.models import Kind, State

STATE_LABELS = {State.draft: N_("Draft"), State.open: N_("Open"), State.closed: N_("Closed")}
KIND_LABELS = {
    Kind.cloud: N_("Word cloud"),
    Kind.choice: N_("Single choice"),
    Kind.scale: N_("Scale 1–5"),
}
LABELS = {"state_labels": STATE_LABELS, "kind_labels": KIND_LABELS}
