"""Labels that every page showing a recognition card uses."""

from app.errors import N_
from app.recognition.models import ReactionKind

REACTION_LABELS = {
    ReactionKind.clap: ("👏", N_("Applause")),
    ReactionKind.heart: ("❤️", N_("Love")),
    ReactionKind.raise_hands: ("🙌", N_("Celebrate")),
}
