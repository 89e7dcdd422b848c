//! Browser steps: the mapping editor's steps (Mappings page).
