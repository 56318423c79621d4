//! The JSON API of cases and close contacts: mark a case, link a contact (classified by the
//! policy of the last-contact date), and read a case's chain of transmission as nodes and
//! edges or as an SVG drawing. Names are masked; persons outside the caller's jurisdiction are
//! anonymous 「辖区外人员」 nodes.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use linli_core::epidemic::contact::{parse_contact_kind, CaseKind};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{format_date, parse_date, rfc3339};
use linli_core::kernel::labels::Labelled;
use linli_core::CoreError;
use linli_store::epidemic::contacts::{self, Case, Chain, ContactInput};
use linli_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ApiUser, ClientIp};
use crate::epidemic::api::{classification_out, ClassificationOut};
use crate::epidemic::pages::contacts::{chain_svg, ChainSvgDoc};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cases, create_case))
        .routes(routes!(create_contact))
        .routes(routes!(get_chain))
        .routes(routes!(get_chain_svg))
        .routes(routes!(unmask_chain))
}

fn required<T>(v: Option<T>, field: &str, errors: &mut Vec<CoreError>) -> Option<T> {
    if v.is_none() {
        errors.push(CoreError::invalid(field, "请填写此项"));
    }
    v
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CaseBody {
    /// A registered person within the caller's jurisdiction.
    pub person_id: Option<i64>,
    /// confirmed (确诊病例) or asymptomatic (无症状感染者).
    pub kind: Option<String>,
    /// `YYYY-MM-DD`, not after today.
    pub diagnosed_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseOut {
    pub id: i64,
    pub person_id: i64,
    /// confirmed or asymptomatic
    pub kind: String,
    pub kind_label: String,
    pub diagnosed_on: String,
    /// The name, masked (张**).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_masked: Option<String>,
    /// Direct contacts (links whose source is this case), when listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_contacts: Option<i64>,
    pub created_at: String,
    pub created_by: String,
}

impl CaseOut {
    fn of(c: &Case) -> CaseOut {
        CaseOut {
            id: c.id,
            person_id: c.person_id,
            kind: c.kind.as_str().to_owned(),
            kind_label: c.kind.label_zh().to_owned(),
            diagnosed_on: format_date(c.diagnosed_on),
            name_masked: None,
            direct_contacts: None,
            created_at: rfc3339(c.created_at),
            created_by: c.created_by.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CasesOut {
    pub cases: Vec<CaseOut>,
}

/// Cases of persons within the caller's jurisdiction, latest diagnosis first (names masked).
#[utoipa::path(get, path = "/api/v1/cases", tag = "epidemic",
    responses((status = 200, body = CasesOut)))]
async fn list_cases(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Json<CasesOut>> {
    let rows = contacts::cases(&state.db, &user.scope).await?;
    Ok(Json(CasesOut {
        cases: rows
            .iter()
            .map(|r| CaseOut {
                name_masked: Some(linli_core::epidemic::contact::mask_name(&r.person_name)),
                direct_contacts: Some(r.direct_contacts),
                ..CaseOut::of(&r.case)
            })
            .collect(),
    }))
}

/// Mark a person as a case (确诊 or 无症状) with the date of diagnosis. Audited.
#[utoipa::path(post, path = "/api/v1/cases", tag = "epidemic", request_body = CaseBody,
    responses((status = 201, body = CaseOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_case(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<CaseBody>,
) -> ApiResult<(StatusCode, Json<CaseOut>)> {
    let mut errors = Vec::new();
    let person_id = required(b.person_id, "person_id", &mut errors);
    let kind = required(b.kind.as_deref(), "kind", &mut errors)
        .and_then(|k| k.parse::<CaseKind>().map_err(|e| errors.push(e)).ok());
    let on = required(b.diagnosed_on.as_deref(), "diagnosed_on", &mut errors).and_then(|d| {
        parse_date("diagnosed_on", d)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let (Some(person_id), Some(kind), Some(on), true) = (person_id, kind, on, errors.is_empty())
    else {
        return Err(StoreError::Invalid(errors).into());
    };
    let case = contacts::mark_case(&state.db, &user.scope, person_id, kind, on, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(CaseOut::of(&case))))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ContactBody {
    /// The contact: a registered person within the caller's jurisdiction.
    pub person_id: Option<i64>,
    /// Whom they were in contact with: a case (for a close contact) or a close contact (for a
    /// contact of a contact), visible to the caller.
    pub source_person_id: Option<i64>,
    /// close_contact (密接) or secondary_contact (次密接).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `YYYY-MM-DD`, not after today: quarantine counts from this day.
    pub last_contact_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOut {
    pub id: i64,
    /// False when the pair was linked already and this recorded a later contact.
    pub created: bool,
    pub person_id: i64,
    pub source_person_id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub last_contact_on: String,
    /// By the policy in force on the last-contact date.
    pub classification: ClassificationOut,
    /// The person's observation, opened or moved by this link.
    pub observation_id: Option<i64>,
    /// Its planned last day (the strictest of the person's links).
    pub observation_until: Option<String>,
}

/// Link a person to a case (密接) or to a close contact (次密接) with the last contact date.
/// The link is classified by the policy in force on that date; the person's observation is
/// opened, or its end moved by a later contact. 201 when created, 200 when a later contact of
/// an existing pair was recorded.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "epidemic", request_body = ContactBody,
    responses((status = 201, body = ContactOut), (status = 200, body = ContactOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_contact(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<ContactBody>,
) -> ApiResult<(StatusCode, Json<ContactOut>)> {
    let mut errors = Vec::new();
    let person_id = required(b.person_id, "person_id", &mut errors);
    let source = required(b.source_person_id, "source_person_id", &mut errors);
    let kind = required(b.kind.as_deref(), "type", &mut errors)
        .and_then(|k| parse_contact_kind(k).map_err(|e| errors.push(e)).ok());
    let on = required(b.last_contact_on.as_deref(), "last_contact_on", &mut errors).and_then(|d| {
        parse_date("last_contact_on", d)
            .map_err(|e| errors.push(e))
            .ok()
    });
    let (Some(person_id), Some(source_person_id), Some(kind), Some(last_contact_on), true) =
        (person_id, source, kind, on, errors.is_empty())
    else {
        return Err(StoreError::Invalid(errors).into());
    };
    let r = contacts::record_contact(
        &state.db,
        &user.scope,
        &ContactInput {
            person_id,
            source_person_id,
            kind,
            last_contact_on,
        },
        now_ms(),
    )
    .await?;
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(ContactOut {
            id: r.id,
            created: r.created,
            person_id: r.person_id,
            source_person_id: r.source_person_id,
            kind: r.kind.as_str().to_owned(),
            last_contact_on: format_date(r.last_contact_on),
            classification: classification_out(&r.classification, r.policy_version_id),
            observation_id: r.observation_id,
            observation_until: r.observation_until.map(format_date),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChainNodeOut {
    /// The node's key in this answer (`n0` is the case); never a person id.
    pub key: String,
    /// Absent for a person outside the caller's jurisdiction.
    pub person_id: Option<i64>,
    pub in_scope: bool,
    /// The masked name (张**), or 「辖区外人员」.
    pub label: String,
    /// 0 for the case, 1 for its contacts, 2 for theirs…
    pub generation: u32,
    /// confirmed or asymptomatic, when the person is a case.
    pub case_kind: Option<String>,
    pub diagnosed_on: Option<String>,
    /// close_contact or secondary_contact (the strongest link into the node).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub last_contact_on: Option<String>,
    pub measure: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChainEdgeOut {
    /// Keys of the source and the contact.
    pub from: String,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Absent when either end is outside the caller's jurisdiction.
    pub last_contact_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChainOut {
    pub case_person_id: i64,
    pub case_kind: String,
    pub diagnosed_on: String,
    pub nodes: Vec<ChainNodeOut>,
    pub edges: Vec<ChainEdgeOut>,
    /// True when the chain was cut (more than 6 generations or 2,000 links).
    pub truncated: bool,
}

fn chain_out(c: Chain) -> ChainOut {
    ChainOut {
        case_person_id: c.case_person_id,
        case_kind: c.case_kind.as_str().to_owned(),
        diagnosed_on: format_date(c.diagnosed_on),
        nodes: c
            .nodes
            .into_iter()
            .map(|n| ChainNodeOut {
                key: n.key,
                person_id: n.person_id,
                in_scope: n.in_scope,
                label: n.label,
                generation: n.generation,
                case_kind: n.case_kind.map(|k| k.as_str().to_owned()),
                diagnosed_on: n.diagnosed_on.map(format_date),
                kind: n.kind.map(|k| k.as_str().to_owned()),
                last_contact_on: n.last_contact_on.map(format_date),
                measure: n.measure.map(|m| m.as_str().to_owned()),
                until: n.until_on,
            })
            .collect(),
        edges: c
            .edges
            .into_iter()
            .map(|e| ChainEdgeOut {
                from: e.from,
                to: e.to,
                kind: e.kind.as_str().to_owned(),
                last_contact_on: e.last_contact_on.map(format_date),
            })
            .collect(),
        truncated: c.truncated,
    }
}

/// The chain of transmission of a case: its contacts and theirs, as nodes and edges. Names are
/// masked; persons outside the caller's jurisdiction are anonymous.
#[utoipa::path(get, path = "/api/v1/cases/{id}/chain", tag = "epidemic",
    params(("id" = i64, Path, description = "the case's person id")),
    responses((status = 200, body = ChainOut), (status = 404, body = ErrorBody)))]
async fn get_chain(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChainOut>> {
    let chain = contacts::chain(&state.db, &user.scope, id).await?;
    Ok(Json(chain_out(chain)))
}

/// The chain with clear names of the persons within the caller's jurisdiction (staff and above;
/// grid workers get 403). Audited with the ids shown; out-of-scope persons stay anonymous.
#[utoipa::path(post, path = "/api/v1/cases/{id}/chain/unmask", tag = "epidemic",
    params(("id" = i64, Path, description = "the case's person id")),
    responses((status = 200, body = ChainOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unmask_chain(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
) -> ApiResult<Json<ChainOut>> {
    let chain = contacts::chain_with_names(&state.db, &user.scope, id, Some(&ip), now_ms()).await?;
    Ok(Json(chain_out(chain)))
}

/// The chain of transmission drawn as SVG (one column per generation; masked names).
#[utoipa::path(get, path = "/api/v1/cases/{id}/chain.svg", tag = "epidemic",
    params(("id" = i64, Path, description = "the case's person id")),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = ErrorBody)))]
async fn get_chain_svg(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let chain = contacts::chain(&state.db, &user.scope, id).await?;
    let doc = ChainSvgDoc {
        svg: chain_svg(&chain),
    };
    let body = doc.render().map_err(|e| {
        tracing::error!(error = %e, "chain svg");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        body,
    )
        .into_response())
}
