//! Browser steps: the Webhooks, Members and Usage pages' steps.
