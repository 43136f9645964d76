//! The roles people play and what each may do.
