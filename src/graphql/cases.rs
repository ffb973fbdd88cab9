//! Cases: `case`, `caseByReference`, `cases` (Relay keyset pages),
//! `businesses`, `suggestInstitutions`, and the case mutations (open, edit,
//! stage, status, resolve, reopen, close, rotate the access code). Thin: the
//! rules and permissions live in `crate::service`.

use super::case_types::*;
use super::loaders::{
    forget_cases, from_load, BusinessKey, InstitutionKey, Loaders, ReferralsOf, TopicsOf, UserKey,
};
use super::types::Institution;
use super::{parse_id, state, viewer};
use crate::domain::types::*;
use crate::error::{AppError, AppResult};
use crate::service::cases::{self as svc, CaseEdit, OpenCase};
use crate::service::intake::BusinessFields;
use crate::service::suggest;
use crate::store::{CaseQuery, InstitutionRow, ListedCase, PageWith, ReferralRow};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use base64::Engine;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// A business as typed on the intake screen or the web form.
#[derive(InputObject, Clone)]
pub struct BusinessInput {
    /// Company name (at most 100 characters).
    pub name: String,
    /// 法人番号: 13 digits, check digit verified.
    pub corporate_number: Option<String>,
    /// JSIC division letter A–T.
    pub industry: Option<String>,
    /// One of the lab's municipalities (gives the region).
    pub municipality: Option<String>,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact e-mail address.
    pub email: Option<String>,
    /// Contact phone number (Japanese format).
    pub phone: Option<String>,
}

impl From<BusinessInput> for BusinessFields {
    fn from(b: BusinessInput) -> Self {
        BusinessFields {
            name: b.name,
            corporate_number: b.corporate_number,
            industry: b.industry,
            municipality: b.municipality,
            contact_name: b.contact_name,
            email: b.email,
            phone: b.phone,
        }
    }
}

/// A new case. Give exactly one of `businessId` and `business`.
#[derive(InputObject)]
pub struct OpenCaseInput {
    /// An existing business of the lab.
    pub business_id: Option<ID>,
    /// A new business (an existing one with the same corporate number is reused).
    pub business: Option<BusinessInput>,
    /// Short title (at most 200 characters).
    pub title: String,
    /// What the business asks for (at most 4000 characters).
    pub description: String,
    /// Topic tags, e.g. IoT, 補助金 (at most 10).
    pub topics: Option<Vec<String>>,
    /// How the consultation reached the desk.
    pub channel: Channel,
    /// Where the business stands.
    pub stage: Stage,
    /// The business consents to sharing its information with partner institutions (recorded with time and who).
    pub consent_to_share: bool,
    /// The business agreed to be e-mailed its reference and the public
    /// milestones of this case at its address (default false; needs an
    /// e-mail address). The access code is never mailed for a desk intake.
    pub email_updates: Option<bool>,
    /// Default `NORMAL`.
    pub priority: Option<Priority>,
    /// Default: the concierge opening the case.
    pub assigned_to_id: Option<ID>,
}

/// Changes to a case; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateCaseInput {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Topic tags, e.g. IoT, 補助金 (at most 10).
    pub topics: Option<Vec<String>>,
    /// New priority.
    pub priority: Option<Priority>,
    /// A concierge or admin of the lab.
    pub assigned_to_id: Option<ID>,
    /// `true` records the business's consent now (by you); `false` records its withdrawal.
    pub consent_to_share: Option<bool>,
    /// Whether the business is e-mailed the public milestones (its choice;
    /// `true` needs an e-mail address).
    pub email_updates: Option<bool>,
}

/// Filters of `cases`; all given filters must hold.
#[derive(InputObject, Default)]
pub struct CaseFilter {
    /// Shown statuses (`REFERRED` included).
    pub status: Option<Vec<CaseStatus>>,
    /// Stages.
    pub stage: Option<Vec<Stage>>,
    /// Cases with a pending, accepted or completed referral to this institution.
    pub institution_id: Option<ID>,
    /// Cases assigned to this staff member.
    pub assigned_to_id: Option<ID>,
    /// Cases of this business.
    pub business_id: Option<ID>,
    /// Cases carrying this topic tag.
    pub topic: Option<String>,
    /// Cases holding (or not) a pending referral past its pick-up deadline.
    pub overdue: Option<bool>,
    /// Cases (not) handed back to the desk: still open, a partner completed a
    /// referral, and no referral is pending or accepted — the desk acts next.
    pub handed_back: Option<bool>,
    /// Opened at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Opened before.
    pub created_to: Option<DateTime<Utc>>,
    /// Substring of the title, description or company name (Japanese works).
    pub search: Option<String>,
    /// Channels.
    pub channel: Option<Vec<Channel>>,
}

/// A new case and its access code (shown once: only its hash is kept).
#[derive(SimpleObject)]
pub struct OpenCasePayload {
    /// The new case.
    pub case: Case,
    /// For the business's status check, with the reference. Not retrievable later.
    pub access_code: String,
    /// When the business was found by its 法人番号 and the typed contact is
    /// not among its contacts: the contact, not stored — offer to add it
    /// with `addBusinessContact`.
    pub offered_contact: Option<super::business::ContactOffer>,
}

fn filter_id(id: Option<&ID>, field: &str) -> AppResult<Option<Uuid>> {
    id.map(|id| {
        id.parse::<Uuid>().map_err(|_| {
            AppError::bad_input(
                Some(field),
                format!("{field} の形式が正しくありません。"),
                format!("{field} is not a valid ID."),
            )
        })
    })
    .transpose()
}

fn to_query(f: CaseFilter) -> AppResult<CaseQuery> {
    let text = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(CaseQuery {
        statuses: f.status.unwrap_or_default(),
        stages: f.stage.unwrap_or_default(),
        channels: f.channel.unwrap_or_default(),
        institution_id: filter_id(f.institution_id.as_ref(), "institutionId")?,
        assigned_to: filter_id(f.assigned_to_id.as_ref(), "assignedToId")?,
        business_id: filter_id(f.business_id.as_ref(), "businessId")?,
        topic: text(f.topic),
        overdue: f.overdue,
        handed_back: f.handed_back,
        created_from: f.created_from,
        created_to: f.created_to,
        search: text(f.search),
        ..Default::default()
    })
}

/// The opaque cursor of a case: base64 of its id.
pub fn encode_cursor(id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.to_string())
}

/// The case id inside a cursor, or `BAD_USER_INPUT`.
pub fn decode_cursor(cursor: &str) -> AppResult<Uuid> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<Uuid>().ok())
        .ok_or_else(|| {
            AppError::bad_input(
                Some("after"),
                "カーソル（after）が正しくありません。一覧を最初から読み直してください。",
                "The cursor (after) is not valid. Read the list again from the start.",
            )
        })
}

fn case_id(id: &ID) -> AppResult<Uuid> {
    parse_id(id, "相談", "Case")
}

fn forget(ctx: &Context<'_>) {
    forget_cases(ctx.data_unchecked::<Loaders>());
}

/// The nested rows the list query selects that the page statement brings along.
fn page_with(ctx: &Context<'_>) -> PageWith {
    let node = ctx.look_ahead().field("edges").field("node");
    PageWith {
        business: node.field("business").exists(),
        assignee: node.field("assignedTo").exists(),
        topics: node.field("topics").exists(),
    }
}

/// Puts the nested rows of a whole page into the request's loaders, so that
/// the per-node resolvers find them in the cache: the business, assignee and
/// topics came with the page (one statement), the referrals and their
/// institutions take one more — whatever the page size.
async fn prefetch(ctx: &Context<'_>, rows: &[ListedCase]) -> async_graphql::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let node = ctx.look_ahead().field("edges").field("node");
    let l = ctx.data_unchecked::<Loaders>();
    l.feed_many(
        rows.iter()
            .filter_map(|r| r.business.clone().map(|b| (BusinessKey(b.id), b))),
    )
    .await;
    l.feed_many(
        rows.iter()
            .filter_map(|r| r.assignee.clone().map(|u| (UserKey(u.id), u))),
    )
    .await;
    l.feed_many(
        rows.iter()
            .filter_map(|r| r.topics.clone().map(|t| (TopicsOf(r.case.id), t))),
    )
    .await;
    let field = node.field("referrals");
    if field.exists() {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.case.id).collect();
        if field.field("institution").exists() {
            let pairs = state(ctx).store.referrals_with_institutions(&ids).await?;
            let mut by_case: HashMap<Uuid, Vec<ReferralRow>> =
                ids.iter().map(|id| (*id, Vec::new())).collect();
            let mut insts: HashMap<Uuid, InstitutionRow> = HashMap::new();
            for (r, i) in pairs {
                insts.entry(i.id).or_insert(i);
                by_case.entry(r.case_id).or_default().push(r);
            }
            l.feed_many(by_case.into_iter().map(|(id, v)| (ReferralsOf(id), v)))
                .await;
            l.feed_many(insts.into_iter().map(|(id, i)| (InstitutionKey(id), i)))
                .await;
        } else {
            l.load_many(ids.into_iter().map(ReferralsOf))
                .await
                .map_err(from_load)?;
        }
    }
    Ok(())
}

#[derive(Default)]
pub struct CasesQuery;

#[Object]
impl CasesQuery {
    /// A case by id; `NOT_FOUND` when it does not exist or you may not see it.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Case>> {
        let v = viewer(ctx)?;
        let row = svc::get_case(state(ctx), v, case_id(&id)?).await?;
        Ok(Some(Case::new(row)))
    }

    /// A case by its reference (e.g. `AOM-2026-000123`; case, spaces and
    /// leading zeros are forgiven); same visibility as `case`.
    async fn case_by_reference(
        &self,
        ctx: &Context<'_>,
        reference: String,
    ) -> AppResult<Option<Case>> {
        let v = viewer(ctx)?;
        let row = svc::case_by_reference(state(ctx), v, &reference).await?;
        Ok(Some(Case::new(row)))
    }

    /// The cases you may see, newest first, a page at a time (`first` default
    /// 20, at most 100; `after` = a cursor from the previous page).
    #[graphql(complexity = "crate::graphql::page_complexity(first, child_complexity)")]
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CaseConnection> {
        let v = viewer(ctx)?;
        let q = to_query(filter.unwrap_or_default())?;
        let after_id = after.as_deref().map(decode_cursor).transpose()?;
        let page = svc::list_cases(state(ctx), v, q, first, after_id, page_with(ctx)).await?;
        prefetch(ctx, &page.rows).await?;
        let edges: Vec<CaseEdge> = page
            .rows
            .into_iter()
            .map(|r| CaseEdge {
                cursor: encode_cursor(r.case.id),
                node: Case::new(r.case),
            })
            .collect();
        Ok(CaseConnection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: after_id.is_some(),
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            count: page.count,
            total: Default::default(),
        })
    }

    /// Businesses of your lab whose name or corporate number contains `search` (desk staff).
    #[graphql(complexity = "crate::graphql::page_complexity(first, child_complexity)")]
    async fn businesses(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
    ) -> AppResult<Vec<Business>> {
        let v = viewer(ctx)?;
        Ok(
            svc::search_businesses(state(ctx), v, search.as_deref(), first)
                .await?
                .into_iter()
                .map(Business)
                .collect(),
        )
    }

    /// The lab's active institutions ranked for a case, best first, each with
    /// a short Japanese reason (desk staff).
    async fn suggest_institutions(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
    ) -> AppResult<Vec<InstitutionSuggestion>> {
        let v = viewer(ctx)?;
        let id = self::case_id(&case_id)?;
        Ok(suggest::suggest(state(ctx), v, id)
            .await?
            .into_iter()
            .map(|(i, s)| InstitutionSuggestion {
                institution: Institution(i),
                score: s.score,
                reason: s.reason,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct CasesMutation;

#[Object]
impl CasesMutation {
    /// Opens a case (desk staff). Returns the access code once.
    async fn open_case(
        &self,
        ctx: &Context<'_>,
        input: OpenCaseInput,
    ) -> AppResult<OpenCasePayload> {
        let v = viewer(ctx)?;
        let business_id = input
            .business_id
            .as_ref()
            .map(|id| parse_id(id, "事業者", "Business"))
            .transpose()?;
        let assigned_to = filter_id(input.assigned_to_id.as_ref(), "assignedToId")?;
        let typed: Option<crate::service::intake::BusinessFields> = input.business.map(Into::into);
        let open = OpenCase {
            business_id,
            business: typed.clone(),
            title: input.title,
            description: input.description,
            topics: input.topics.unwrap_or_default(),
            channel: input.channel,
            stage: input.stage,
            consent_to_share: input.consent_to_share,
            email_updates: input.email_updates.unwrap_or(false),
            priority: input.priority,
            assigned_to,
        };
        let (snap, code) = svc::open_case(state(ctx), v, open).await?;
        forget(ctx);
        let offered = crate::service::business::offer_after_open(
            state(ctx),
            v,
            typed.as_ref(),
            &snap.business,
        )
        .await?;
        Ok(OpenCasePayload {
            case: Case::from_snapshot(snap),
            access_code: code,
            offered_contact: offered.map(Into::into),
        })
    }

    /// Edits a case (desk staff). A stale `expectedVersion` is a `CONFLICT` and changes nothing.
    async fn update_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        input: UpdateCaseInput,
    ) -> AppResult<Case> {
        let v = viewer(ctx)?;
        let edit = CaseEdit {
            title: input.title,
            description: input.description,
            topics: input.topics,
            priority: input.priority,
            assigned_to: filter_id(input.assigned_to_id.as_ref(), "assignedToId")?,
            consent_to_share: input.consent_to_share,
            email_updates: input.email_updates,
        };
        let snap = svc::update_case(state(ctx), v, case_id(&id)?, expected_version, edit).await?;
        forget(ctx);
        Ok(Case::from_snapshot(snap))
    }

    /// Moves a case to another stage (知る・相談する・試す); the same stage again is a `CONFLICT`.
    async fn set_stage(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        expected_version: i32,
        stage: Stage,
        note: Option<String>,
    ) -> AppResult<Case> {
        let v = viewer(ctx)?;
        let id = self::case_id(&case_id)?;
        let snap = svc::set_stage(state(ctx), v, id, expected_version, stage, note).await?;
        forget(ctx);
        Ok(Case::from_snapshot(snap))
    }

    /// Changes the status along the allowed transitions; `REFERRED` follows
    /// from referring and `RESOLVED` needs `resolveCase` (both `CONFLICT`).
    async fn set_status(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        expected_version: i32,
        status: CaseStatus,
        note: Option<String>,
    ) -> AppResult<Case> {
        let v = viewer(ctx)?;
        let id = self::case_id(&case_id)?;
        let snap = svc::set_status(state(ctx), v, id, expected_version, status, note).await?;
        forget(ctx);
        Ok(Case::from_snapshot(snap))
    }

    /// Resolves a case with one or more outcomes and a summary; refused while
    /// a referral is pending or accepted.
    async fn resolve_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        expected_version: i32,
        outcomes: Vec<Outcome>,
        summary: String,
    ) -> AppResult<Case> {
        let v = viewer(ctx)?;
        let id = self::case_id(&case_id)?;
        let snap =
            svc::resolve_case(state(ctx), v, id, expected_version, outcomes, summary).await?;
        forget(ctx);
        Ok(Case::from_snapshot(snap))
    }

    /// Reopens a resolved case (back to `IN_PROGRESS`).
    async fn reopen_case(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        note: Option<String>,
    ) -> AppResult<Case> {
        let v = viewer(ctx)?;
        let snap = svc::reopen_case(state(ctx), v, self::case_id(&case_id)?, note).await?;
        forget(ctx);
        Ok(Case::from_snapshot(snap))
    }

    /// Closes a resolved case for good.
    async fn close_case(&self, ctx: &Context<'_>, case_id: ID) -> AppResult<Case> {
        let v = viewer(ctx)?;
        let snap = svc::close_case(state(ctx), v, self::case_id(&case_id)?).await?;
        forget(ctx);
        Ok(Case::from_snapshot(snap))
    }

    /// Issues a new access code for the business's status check; the old one stops working at once.
    async fn rotate_access_code(&self, ctx: &Context<'_>, case_id: ID) -> AppResult<String> {
        let v = viewer(ctx)?;
        let code = svc::rotate_access_code(state(ctx), v, self::case_id(&case_id)?).await?;
        forget(ctx);
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_bad_input() {
        let id = Uuid::now_v7();
        let c = encode_cursor(id);
        assert!(!c.contains(&id.to_string()));
        assert_eq!(decode_cursor(&c).unwrap(), id);
        for bad in ["", "!!!", "Zm9v"] {
            match decode_cursor(bad) {
                Err(AppError::BadInput { field, .. }) => {
                    assert_eq!(field.as_deref(), Some("after"))
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn filter_ids_must_be_ids() {
        let f = CaseFilter {
            institution_id: Some(ID("nope".into())),
            ..Default::default()
        };
        assert!(matches!(to_query(f), Err(AppError::BadInput { .. })));
        let f = CaseFilter {
            search: Some("  在庫管理 ".into()),
            topic: Some(" ".into()),
            ..Default::default()
        };
        let q = to_query(f).unwrap();
        assert_eq!(q.search.as_deref(), Some("在庫管理"));
        assert_eq!(q.topic, None);
    }
}
