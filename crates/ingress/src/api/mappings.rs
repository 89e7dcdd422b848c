//! `/v1/mappings`: create and PATCH (validated against the caller's connections), list, get, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use fluxcascade_core::{MappingSpec, ProviderKind};
use fluxcascade_store::mappings::MappingRow;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::api::PathId;
use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::json::{self, ApiJson};
use crate::paging::{ListParams, Page, Params};
use crate::AppState;

/// A stored mapping as `/openapi.json` documents it ([`mapping_view`] writes it): the spec, its id
/// and timestamps; a scheduled mapping's `schedule` also carries `nextRuns`, its next five fire times.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MappingView {
    id: Uuid,
    #[serde(flatten)]
    spec: MappingSpec,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

/// A stored mapping as the API shows it: the spec plus id and timestamps (`match`, `schedule` may be null).
pub fn mapping_view(row: &MappingRow) -> Result<Value, ApiError> {
    let spec = serde_json::to_value(&row.spec).map_err(|e| {
        tracing::error!(error = %e, mapping_id = %row.id, "cannot serialise mapping");
        ApiError::internal()
    })?;
    let mut out = Map::new();
    out.insert("id".into(), Value::String(row.id.to_string()));
    if let Value::Object(fields) = spec {
        out.extend(fields);
    }
    out.entry("match").or_insert(Value::Null);
    out.entry("schedule").or_insert(Value::Null);
    // The next five fire times, by the same code the scheduler fires with.
    if let (Some(schedule), Some(Value::Object(obj))) =
        (&row.spec.schedule, out.get_mut("schedule"))
    {
        let runs = fluxcascade_core::schedule::next_runs(
            &schedule.cron,
            &schedule.timezone,
            chrono::Utc::now(),
            5,
        )
        .map(|runs| runs.iter().map(|t| Value::String(t.to_rfc3339())).collect())
        .unwrap_or_default();
        obj.insert("nextRuns".into(), Value::Array(runs));
    }
    out.insert(
        "createdAt".into(),
        Value::String(row.created_at.to_rfc3339()),
    );
    out.insert(
        "updatedAt".into(),
        Value::String(row.updated_at.to_rfc3339()),
    );
    Ok(Value::Object(out))
}

/// The provider of a connection id named in a spec, or the 422 detail saying why it cannot be used.
async fn endpoint_provider(
    state: &AppState,
    org_id: Uuid,
    raw_id: &str,
    field: &str,
) -> Result<Result<ProviderKind, ErrorDetail>, ApiError> {
    let unknown = || ErrorDetail::new(field, "no such connection in this organization");
    let Ok(id) = Uuid::parse_str(raw_id) else {
        return Ok(Err(unknown()));
    };
    let Some(conn) = state.store.get_connection(org_id, id).await? else {
        return Ok(Err(unknown()));
    };
    match ProviderKind::parse(&conn.provider) {
        Some(p) => Ok(Ok(p)),
        None => {
            tracing::error!(connection_id = %id, provider = %conn.provider, "stored connection has an unknown provider");
            Err(ApiError::internal())
        }
    }
}

/// Both connections must exist in the caller's org; then the spec must pass `validate_mapping`.
async fn validate(state: &AppState, org_id: Uuid, spec: &MappingSpec) -> Result<(), ApiError> {
    match check(state, org_id, spec, "").await? {
        Ok(_) => Ok(()),
        Err(details) => Err(ApiError::invalid(details)),
    }
}

/// The source and target providers of a valid spec, or every problem with it. Each detail's
/// field is `prefix` + the spec's own path (`mapping.` + `fieldPairs[2].transform` in a preview).
pub(crate) async fn check(
    state: &AppState,
    org_id: Uuid,
    spec: &MappingSpec,
    prefix: &str,
) -> Result<Result<(ProviderKind, ProviderKind), Vec<ErrorDetail>>, ApiError> {
    let source = endpoint_provider(
        state,
        org_id,
        &spec.source.connection_id,
        &format!("{prefix}source.connectionId"),
    )
    .await?;
    let target = endpoint_provider(
        state,
        org_id,
        &spec.target.connection_id,
        &format!("{prefix}target.connectionId"),
    )
    .await?;
    let (source, target) = match (source, target) {
        (Ok(s), Ok(t)) => (s, t),
        (s, t) => return Ok(Err(s.err().into_iter().chain(t.err()).collect())),
    };
    let mut issues = fluxcascade_core::validate_mapping(spec, source, target);
    // Over the limit, validation already named `associations`: look none of them up.
    let lookups = if spec.associations.len() > fluxcascade_core::limits::MAX_ASSOCIATIONS {
        0
    } else {
        spec.associations.len()
    };
    for (i, a) in spec.associations.iter().enumerate().take(lookups) {
        let known = match Uuid::parse_str(&a.mapping_id) {
            Ok(id) => state.store.get_mapping(org_id, id).await?.is_some(),
            Err(_) => false,
        };
        if !known && !a.mapping_id.trim().is_empty() {
            issues.push(fluxcascade_core::ValidationIssue::new(
                format!("associations[{i}].mappingId"),
                "no such mapping in this organization",
            ));
        }
    }
    if issues.is_empty() {
        Ok(Ok((source, target)))
    } else {
        Ok(Err(issues
            .into_iter()
            .map(|i| ErrorDetail::new(format!("{prefix}{}", i.field), i.message))
            .collect()))
    }
}

/// Creates a mapping between two connections of the organization (Admin, Owner).
#[utoipa::path(post, path = "/v1/mappings", tag = "mappings",
    request_body = MappingSpec,
    responses(
        (status = 201, body = MappingView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn create(
    State(state): State<AppState>,
    Manager(caller): Manager,
    ApiJson(spec): ApiJson<MappingSpec>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    validate(&state, caller.org_id(), &spec).await?;
    let row = state.store.create_mapping(caller.org_id(), &spec).await?;
    tracing::info!(org_id = %caller.org_id(), mapping_id = %row.id, "mapping created");
    crate::api::audit::record(&state, &caller, "mapping.created", "mapping", row.id).await;
    Ok((StatusCode::CREATED, Json(mapping_view(&row)?)))
}

/// The organization's mappings, oldest first.
#[utoipa::path(get, path = "/v1/mappings", tag = "mappings",
    params(ListParams),
    responses(
        (status = 200, body = Page<MappingView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let limit = params.limit()?;
    let rows = state
        .store
        .list_mappings(caller.org_id(), limit + 1, params.uuid_cursor()?)
        .await?;
    let page = Page::from_rows(rows, limit, |r| r.id, |r| mapping_view(&r));
    let data = page.data.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Json(
        serde_json::json!({ "data": data, "nextCursor": page.next_cursor }),
    ))
}

/// One mapping of the caller's organization.
#[utoipa::path(get, path = "/v1/mappings/{id}", tag = "mappings",
    params(("id" = Uuid, Path, description = "The mapping's id")),
    responses(
        (status = 200, body = MappingView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .store
        .get_mapping(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(mapping_view(&row)?))
}

/// Merges the patch's top-level keys onto the stored spec (`null` removes an optional key).
pub fn merge_patch(spec: &MappingSpec, patch: Value) -> Result<MappingSpec, ApiError> {
    let Value::Object(patch) = patch else {
        return Err(ApiError::invalid_field(
            "body",
            "a PATCH body is a JSON object of the fields to change",
        ));
    };
    let mut merged = match serde_json::to_value(spec) {
        Ok(Value::Object(m)) => m,
        _ => return Err(ApiError::internal()),
    };
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    json::from_value(Value::Object(merged))
}

/// Replaces the given top-level fields of a mapping (`null` removes an optional one, so
/// `schedule: null` unschedules); the result is validated like a new mapping (Admin, Owner).
#[utoipa::path(patch, path = "/v1/mappings/{id}", tag = "mappings",
    params(("id" = Uuid, Path, description = "The mapping's id")),
    request_body(content = Object,
        description = "Top-level fields of a mapping (as in `POST /v1/mappings`) to replace"),
    responses(
        (status = 200, body = MappingView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn patch(
    State(state): State<AppState>,
    Manager(caller): Manager,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let current = state
        .store
        .get_mapping(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let before = serde_json::to_value(&current.spec).unwrap_or_default();
    let spec = merge_patch(&current.spec, body)?;
    validate(&state, caller.org_id(), &spec).await?;
    let row = state
        .store
        .update_mapping(caller.org_id(), id, &spec)
        .await?;
    tracing::info!(org_id = %caller.org_id(), mapping_id = %id, "mapping updated");
    let changed =
        crate::api::audit::changed_keys(&before, &serde_json::to_value(&spec).unwrap_or_default());
    crate::api::audit::record_update(&state, &caller, "mapping", id, changed).await;
    Ok(Json(mapping_view(&row)?))
}

/// Deletes a mapping (Admin, Owner); 409 while one of its runs is under way.
#[utoipa::path(delete, path = "/v1/mappings/{id}", tag = "mappings",
    params(("id" = Uuid, Path, description = "The mapping's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn delete(
    State(state): State<AppState>,
    Manager(caller): Manager,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_mapping(caller.org_id(), id).await? {
        tracing::info!(org_id = %caller.org_id(), mapping_id = %id, "mapping deleted");
        crate::api::audit::record(&state, &caller, "mapping.deleted", "mapping", id).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> MappingSpec {
        serde_json::from_value(json!({
            "name": "contacts",
            "source": {"connectionId": "a", "object": "contacts"},
            "target": {"connectionId": "b", "object": "clients"},
            "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}],
            "schedule": {"cron": "0 * * * * *", "timezone": "UTC"}
        }))
        .unwrap()
    }

    #[test]
    fn patch_replaces_given_keys_and_keeps_the_rest() {
        let merged = merge_patch(&spec(), json!({"name": "renamed", "enabled": false})).unwrap();
        assert_eq!(merged.name, "renamed");
        assert!(!merged.enabled);
        assert_eq!(merged.field_pairs, spec().field_pairs);
        assert_eq!(merged.schedule, spec().schedule);
    }

    #[test]
    fn patch_null_clears_optional_keys_and_bad_values_name_the_field() {
        let merged = merge_patch(&spec(), json!({"schedule": null})).unwrap();
        assert_eq!(merged.schedule, None);
        let e = merge_patch(&spec(), json!({"fieldPairs": [{"sourceField": "x"}]})).unwrap_err();
        assert_eq!(e.details[0].field, "fieldPairs[0].targetField");
        let e = merge_patch(&spec(), json!({"name": null})).unwrap_err();
        assert_eq!(e.details[0].field, "name");
        assert!(merge_patch(&spec(), json!([1])).is_err());
    }

    #[test]
    fn on_delete_defaults_to_ignore_patches_and_names_the_field_when_unknown() {
        assert_eq!(spec().on_delete, fluxcascade_core::OnDelete::Ignore);
        let merged = merge_patch(&spec(), json!({"onDelete": "archive"})).unwrap();
        assert_eq!(merged.on_delete, fluxcascade_core::OnDelete::Archive);
        assert_eq!(
            serde_json::to_value(&merged).unwrap()["onDelete"],
            "archive"
        );
        let e = merge_patch(&spec(), json!({"onDelete": "delete"})).unwrap_err();
        assert_eq!(e.details[0].field, "onDelete");
    }
}
