//! District model: streets, supervision and technical grids, squads, inspectors.
