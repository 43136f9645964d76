//! Case lifecycle states and their allowed transitions.
