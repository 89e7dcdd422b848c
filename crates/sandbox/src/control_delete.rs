//! `DELETE /_sandbox/{provider}/{object}/{id}`: a person deletes a record in the provider's app,
//! as the provider does it, and the provider's deletion webhook goes out.
//!
//! - HubSpot: the object is archived (listable with `archived=true`, `archivedAt` set) and a
//!   `{object}.deletion` event is sent (`changeSource: CRM_UI`).
//! - Jobber: the client is deleted for good and a `CLIENT_DESTROY` event is sent.
//! - Pipedrive: the record is marked deleted (`is_deleted`) and a v2 `delete` event goes to every
//!   matching subscription (`change_source: app`).
//! - Salesforce (nested in `salesforce::control`): the record goes to the recycle bin; no webhook.
//!
//! 204 when deleted; 404 when there is no such live record.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::control::{target, AccountQuery, Target};
use crate::control_request::err;
use crate::jobber::store::decode_id;
use crate::pipedrive::{self, webhooks};
use crate::state::{lock, SharedState};
use crate::webhook::ChangeSource;

pub(crate) async fn delete(
    State(state): State<SharedState>,
    Path((provider, object, id)): Path<(String, String, String)>,
    Query(q): Query<AccountQuery>,
) -> Response {
    let t = match target(&provider, &object) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let not_found = || err(StatusCode::NOT_FOUND, format!("no record {id}"));
    match t {
        Target::Hubspot(kind) => {
            let acct = state.hubspot.get_or_create(q.account());
            let Some(num) = id.parse::<u64>().ok() else {
                return not_found();
            };
            if acct.store(kind).archive(num).is_none() {
                return not_found();
            }
            state.hubspot_deleted(acct.portal_id, kind.as_str(), &[num], ChangeSource::User);
        }
        Target::JobberClients => {
            let acct = state.jobber.get_or_create(q.account());
            let removed = decode_id("Client", &id).and_then(|n| lock(&acct.clients).remove(n));
            let Some(client) = removed else {
                return not_found();
            };
            state.jobber_destroyed(acct.account_id, "Client", client.id);
        }
        Target::JobberJobs | Target::JobberProperties => {
            return err(
                StatusCode::NOT_FOUND,
                format!("deleting jobber {object} is not emulated; only clients"),
            );
        }
        Target::Pipedrive(kind) => {
            let acct = state.pipedrive.get_or_create(q.account());
            let Some(num) = id.parse::<u64>().ok() else {
                return not_found();
            };
            let Some(before) = acct.store(kind).delete(num, pipedrive::now_s()) else {
                return not_found();
            };
            webhooks::announce(
                &state,
                &acct,
                kind,
                "delete",
                num,
                Value::Null,
                before,
                pipedrive::ChangeSource::App,
            );
        }
    }
    StatusCode::NO_CONTENT.into_response()
}
