"""Labels that pages outside the contests show too (the home feed's announced results)."""

from app.errors import N_

PLACE_LABELS = {1: N_("1st place"), 2: N_("2nd place"), 3: N_("3rd place")}
