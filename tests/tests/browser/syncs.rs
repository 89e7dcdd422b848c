//! Browser steps: the Syncs and Dead letters pages' steps.
