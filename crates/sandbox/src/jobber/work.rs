//! Jobber properties (service addresses of a client) and jobs, for one account.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::Serialize;

use super::store::JobberAddress;
use crate::clock::now_ms;

/// A property: where work happens, owned by a client.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobberProperty {
    pub id: u64,
    pub client_id: u64,
    pub address: JobberAddress,
}

/// A job at a property.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobberJob {
    pub id: u64,
    pub job_number: u64,
    pub title: Option<String>,
    pub instructions: Option<String>,
    pub job_status: String,
    pub job_type: String,
    pub start_at_ms: Option<i64>,
    pub end_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
    pub total: f64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub client_id: u64,
    pub property_id: u64,
}

/// Properties and jobs of one account.
#[derive(Debug)]
pub struct JobberWorkStore {
    pub properties: BTreeMap<u64, JobberProperty>,
    jobs: BTreeMap<u64, JobberJob>,
    jobs_by_updated: BTreeSet<(i64, u64)>,
    next_property_id: u64,
    next_job_id: u64,
    next_job_number: u64,
}

impl Default for JobberWorkStore {
    fn default() -> Self {
        JobberWorkStore {
            properties: BTreeMap::new(),
            jobs: BTreeMap::new(),
            jobs_by_updated: BTreeSet::new(),
            next_property_id: 30_000_001,
            next_job_id: 60_000_001,
            next_job_number: 1,
        }
    }
}

impl JobberWorkStore {
    pub fn clear(&mut self) {
        *self = JobberWorkStore::default();
    }

    pub fn add_property(&mut self, client_id: u64, address: JobberAddress) -> u64 {
        let id = self.next_property_id;
        self.next_property_id += 1;
        self.properties.insert(
            id,
            JobberProperty {
                id,
                client_id,
                address,
            },
        );
        id
    }

    pub fn property(&self, id: u64) -> Option<&JobberProperty> {
        self.properties.get(&id)
    }

    /// Stores a job; id, number (unless given) and times are assigned.
    pub fn add_job(&mut self, mut job: JobberJob, at_ms: i64) -> u64 {
        let id = self.next_job_id;
        self.next_job_id += 1;
        if job.job_number == 0 {
            job.job_number = self.next_job_number;
        }
        self.next_job_number = self.next_job_number.max(job.job_number + 1);
        job.id = id;
        job.created_ms = at_ms;
        job.updated_ms = at_ms;
        self.jobs_by_updated.insert((at_ms, id));
        self.jobs.insert(id, job);
        id
    }

    pub fn job(&self, id: u64) -> Option<&JobberJob> {
        self.jobs.get(&id)
    }

    pub fn jobs_len(&self) -> usize {
        self.jobs.len()
    }

    pub fn all_jobs(&self) -> impl Iterator<Item = &JobberJob> {
        self.jobs.values()
    }

    /// Replaces a job (same id), bumping its updated time.
    pub fn replace_job(&mut self, mut job: JobberJob) -> Option<()> {
        let old = self.jobs.get(&job.id)?;
        let now = now_ms().max(old.updated_ms);
        self.jobs_by_updated.remove(&(old.updated_ms, job.id));
        job.updated_ms = now;
        self.jobs_by_updated.insert((now, job.id));
        self.jobs.insert(job.id, job);
        Some(())
    }

    /// Jobs in id order after `after`.
    pub fn jobs_by_id(&self, after: Option<u64>) -> Box<dyn Iterator<Item = &JobberJob> + '_> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Box::new(self.jobs.range((start, Bound::Unbounded)).map(|(_, j)| j))
    }

    /// Jobs in (updated, id) order, ascending or descending, strictly past `cursor`.
    pub fn jobs_by_updated(
        &self,
        descending: bool,
        cursor: Option<(i64, u64)>,
    ) -> Box<dyn Iterator<Item = &JobberJob> + '_> {
        let lookup = move |(_, id): &(i64, u64)| self.jobs.get(id);
        match (descending, cursor) {
            (false, c) => Box::new(
                self.jobs_by_updated
                    .range((
                        c.map_or(Bound::Unbounded, Bound::Excluded),
                        Bound::Unbounded,
                    ))
                    .filter_map(lookup),
            ),
            (true, c) => Box::new(
                self.jobs_by_updated
                    .range((
                        Bound::Unbounded,
                        c.map_or(Bound::Unbounded, Bound::Excluded),
                    ))
                    .rev()
                    .filter_map(lookup),
            ),
        }
    }
}
