//! The patrol checklist: modules, major classes, subclasses and fine classes.
