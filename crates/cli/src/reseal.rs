//! `fluxcascade admin reseal`: moves every connection token and outbound webhook secret that is
//! not under `FLUXCASCADE_MASTER_KEY` to it, online and resumably (see `fluxcascade_store::reseal`),
//! and prints the counts. Once it reports nothing left, the previous keys can be dropped.

use anyhow::bail;
use fluxcascade_store::reseal::ResealBatch;
use fluxcascade_store::{MasterKey, Store};
use tracing::warn;

/// The totals of one run over one table.
#[derive(Debug, Default)]
struct Totals {
    resealed: u64,
    already_current: u64,
    failed: u64,
    batches: u64,
}

impl Totals {
    fn add(&mut self, what: &str, b: &ResealBatch) {
        self.resealed += b.resealed;
        self.already_current += b.already_current;
        self.failed += b.failed.len() as u64;
        self.batches += 1;
        for (id, error) in &b.failed {
            warn!(%id, %error, table = what, "could not re-seal");
            eprintln!("{what} {id}: {error}");
        }
    }
}

pub async fn run(store: &Store, key: &MasterKey, batch: u32) -> anyhow::Result<()> {
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let limit = i64::from(batch);
    println!(
        "current key {}; previous keys: {}",
        key.key_id(),
        match key.previous_key_ids() {
            ids if ids.is_empty() => "none".to_owned(),
            ids => ids.join(", "),
        }
    );
    let (conns, hooks) = store.count_not_current(key).await?;
    if conns == 0 && hooks == 0 {
        println!(
            "nothing to re-seal: every connection token and webhook secret is under key {}",
            key.key_id()
        );
        return Ok(());
    }
    println!("to re-seal: {conns} connections, {hooks} webhooks");

    let mut c = Totals::default();
    let mut after = None;
    loop {
        let b = store.reseal_connections_batch(key, after, limit).await?;
        let Some(last) = b.last_id else { break };
        c.add("connection", &b);
        after = Some(last);
        println!("connections: {} re-sealed so far", c.resealed);
    }
    let mut w = Totals::default();
    let mut after = None;
    loop {
        let b = store.reseal_webhooks_batch(key, after, limit).await?;
        let Some(last) = b.last_id else { break };
        w.add("webhook", &b);
        after = Some(last);
    }
    println!(
        "connections: {} re-sealed, {} already current, {} failed",
        c.resealed, c.already_current, c.failed
    );
    println!(
        "webhooks: {} re-sealed, {} already current, {} failed",
        w.resealed, w.already_current, w.failed
    );
    let (conns, hooks) = store.count_not_current(key).await?;
    if c.failed + w.failed > 0 || conns + hooks > 0 {
        bail!(
            "{conns} connections and {hooks} webhooks are still under another key: keep the previous keys and run reseal again"
        );
    }
    println!(
        "done: everything is under key {}; the previous keys can be dropped",
        key.key_id()
    );
    Ok(())
}
