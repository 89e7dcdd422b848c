-- Issue 15: a running sync shows its progress and what it waits on.
-- records_published: records the coordinator has published in batches so far (with each page's
-- checkpoint), the exact total once every page is read. total_estimate: fixed when the run
-- starts, only for a run that reads everything (full, or a mapping's first run): the read count
-- of the mapping's last finished run that read everything, else its number of links.
ALTER TABLE sync_runs ADD COLUMN records_published bigint NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN total_estimate bigint;
-- A job of the run deferred by a provider's rate limit: which provider, until when, and since
-- when (a batch committed after `waiting_since` means the run moves again). One UPDATE per
-- deferral; shown only while the run is running and `waiting_until` is in the future.
ALTER TABLE sync_runs ADD COLUMN waiting_provider text;
ALTER TABLE sync_runs ADD COLUMN waiting_until timestamptz;
ALTER TABLE sync_runs ADD COLUMN waiting_since timestamptz;
