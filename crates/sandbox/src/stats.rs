//! Request and write counters exposed at `GET /_sandbox/stats`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::state::lock;

#[derive(Default)]
pub struct SandboxStats {
    requests: Mutex<HashMap<(&'static str, String, u16), u64>>,
    writes: Mutex<HashMap<(&'static str, &'static str), u64>>,
}

impl SandboxStats {
    pub fn record_request(&self, provider: &'static str, endpoint: String, status: u16) {
        *lock(&self.requests)
            .entry((provider, endpoint, status))
            .or_insert(0) += 1;
    }

    pub fn record_writes(&self, provider: &'static str, object: &'static str, n: u64) {
        if n > 0 {
            *lock(&self.writes).entry((provider, object)).or_insert(0) += n;
        }
    }

    pub fn clear(&self) {
        lock(&self.requests).clear();
        lock(&self.writes).clear();
    }

    /// `{requests:[{provider, endpoint, status, count}], writes:[{provider, object, count}], totals}`.
    pub fn snapshot(&self) -> Value {
        let mut requests: Vec<Value> = Vec::new();
        let mut by_provider: HashMap<&str, u64> = HashMap::new();
        for ((p, e, s), c) in lock(&self.requests).iter() {
            *by_provider.entry(p).or_insert(0) += c;
            requests.push(json!({"provider": p, "endpoint": e, "status": s, "count": c}));
        }
        requests.sort_by(|a, b| {
            (
                a["provider"].as_str(),
                a["endpoint"].as_str(),
                a["status"].as_u64(),
            )
                .cmp(&(
                    b["provider"].as_str(),
                    b["endpoint"].as_str(),
                    b["status"].as_u64(),
                ))
        });
        let mut writes: Vec<Value> = lock(&self.writes)
            .iter()
            .map(|((p, o), c)| json!({"provider": p, "object": o, "count": c}))
            .collect();
        writes.sort_by(|a, b| {
            (a["provider"].as_str(), a["object"].as_str())
                .cmp(&(b["provider"].as_str(), b["object"].as_str()))
        });
        json!({"requests": requests, "writes": writes, "requestsByProvider": by_provider})
    }
}
