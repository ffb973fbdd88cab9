//! GraphQL object types of the case area: `Case`, `Business`, `Referral`,
//! `Note`, `CaseEvent`, the `CaseConnection` of the list and
//! `InstitutionSuggestion`. Nested edges load through the request's
//! DataLoaders and are filtered for the viewer by `service::access`.

use super::loaders::*;
use super::types::{Institution, User};
use super::viewer;
use crate::domain::case_actions::{case_actions, CaseActions};
use crate::domain::types::*;
use crate::error::AppError;
use crate::service::{access, referrals::is_overdue};
use crate::state::AppState;
use crate::store::*;
use async_graphql::dataloader::Loader;
use async_graphql::{Context, Json, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn loaders<'a>(ctx: &'a Context<'_>) -> &'a Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// One key through the request's DataLoader, boxed. async-graphql moves every
/// field's future into a box the size of its type's largest field future, so
/// a loader awaited inline made a case's `id` pay for `business`; boxed here,
/// each resolver holds a pointer (docs/DESIGN.md, "Where a list request's CPU
/// goes now").
fn load<'a, K>(
    ctx: &'a Context<'_>,
    key: K,
) -> futures::future::BoxFuture<'a, Result<Option<<StoreLoader as Loader<K>>::Value>>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    StoreLoader: Loader<K, Error = LoadError>,
{
    Box::pin(async move { loaders(ctx).load_one(key).await.map_err(from_load) })
}

async fn user(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<User>> {
    let Some(id) = id else { return Ok(None) };
    Ok(load(ctx, UserKey(id)).await?.map(User))
}

/// A consultation of a business with the desk (案件), with its support record.
pub struct Case {
    pub row: CaseRow,
    /// Rows fresh from a write; otherwise they are loaded when asked for.
    pub topics: Option<Vec<String>>,
    pub referrals: Option<Vec<ReferralRow>>,
    pub business: Option<BusinessRow>,
}

impl Case {
    /// A case read from the list or by id.
    pub fn new(row: CaseRow) -> Self {
        Case {
            row,
            topics: None,
            referrals: None,
            business: None,
        }
    }

    /// A case as a write left it.
    pub fn from_snapshot(s: CaseSnapshot) -> Self {
        Case {
            row: s.case,
            topics: Some(s.topics),
            referrals: Some(s.referrals),
            business: Some(s.business),
        }
    }

    /// What the viewer may do with the case now (domain rules over its referrals).
    async fn actions(&self, ctx: &Context<'_>) -> Result<CaseActions> {
        let v = viewer(ctx)?;
        let statuses: Vec<ReferralStatus> = self
            .all_referrals(ctx)
            .await?
            .iter()
            .map(|r| r.status)
            .collect();
        Ok(case_actions(v, self.row.status, &statuses))
    }

    async fn all_referrals(&self, ctx: &Context<'_>) -> Result<Vec<ReferralRow>> {
        if let Some(r) = &self.referrals {
            return Ok(r.clone());
        }
        Ok(load(ctx, ReferralsOf(self.row.id))
            .await?
            .unwrap_or_default())
    }
}

#[Object]
impl Case {
    /// Stable opaque id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// Human reference, e.g. `AOM-2026-000123` (lab code, calendar year, sequence).
    async fn reference(&self) -> &str {
        &self.row.reference
    }
    /// Short title of the consultation.
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// What the business asked for, in its words or the desk's.
    async fn description(&self) -> &str {
        &self.row.description
    }
    /// Where the business stands: 知る, 相談する or 試す.
    async fn stage(&self) -> Stage {
        self.row.stage
    }
    /// The status shown: `REFERRED` while a referral awaits pick-up on a NEW or IN_PROGRESS case.
    async fn status(&self, ctx: &Context<'_>) -> Result<CaseStatus> {
        let v = viewer(ctx)?;
        // A partner's view derives REFERRED from its own referrals only: another
        // institution's pending referral is not its to know.
        let pending = match (&self.referrals, v.partner_institution()) {
            (_, Some(inst)) => self
                .all_referrals(ctx)
                .await?
                .iter()
                .any(|r| r.institution_id == inst && r.status == ReferralStatus::Pending),
            (Some(r), None) => r.iter().any(|r| r.status == ReferralStatus::Pending),
            (None, None) => self.row.has_pending,
        };
        Ok(crate::domain::case_state::displayed_status(
            self.row.status,
            pending,
        ))
    }
    /// How urgent the desk considers it.
    async fn priority(&self) -> Priority {
        self.row.priority
    }
    /// Topic tags, e.g. IoT, 補助金.
    async fn topics(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        if let Some(t) = &self.topics {
            return Ok(t.clone());
        }
        Ok(load(ctx, TopicsOf(self.row.id)).await?.unwrap_or_default())
    }
    /// How the consultation reached the desk.
    async fn channel(&self) -> Channel {
        self.row.channel
    }
    /// Whether the business consented to sharing its information with partner institutions (needed to refer).
    async fn consent_to_share(&self) -> bool {
        self.row.consent_to_share
    }
    /// Whether the business agreed to be e-mailed its reference and the
    /// public milestones of this case.
    async fn email_updates(&self) -> bool {
        self.row.email_updates
    }
    /// When the consent was recorded.
    async fn consent_at(&self) -> Option<DateTime<Utc>> {
        self.row.consent_at
    }
    /// Who recorded the consent (null when the business gave it on the web form).
    async fn consent_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.row.consent_by).await
    }
    /// Optimistic-concurrency version: pass it as `expectedVersion` when editing.
    async fn version(&self) -> i64 {
        self.row.version
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
    /// When it was resolved (cleared on reopening).
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.row.resolved_at
    }
    /// When it was closed.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.row.closed_at
    }
    /// Outcomes recorded when the case was resolved.
    async fn outcomes(&self) -> Vec<Outcome> {
        self.row.outcomes.0.clone()
    }
    /// The summary recorded when the case was resolved.
    async fn outcome_summary(&self) -> Option<&str> {
        self.row.outcome_summary.as_deref()
    }
    /// The concierge following the case.
    async fn assigned_to(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.row.assigned_to).await
    }
    /// The staff member who opened it (null for the web form).
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.row.created_by).await
    }
    /// The business the case is for.
    async fn business(&self, ctx: &Context<'_>) -> Result<Business> {
        let b = match &self.business {
            Some(b) => b.clone(),
            None => load(ctx, BusinessKey(self.row.business_id))
                .await?
                .ok_or_else(|| AppError::not_found("事業者", "Business"))?,
        };
        let v = viewer(ctx)?;
        if v.is_desk() {
            return Ok(Business(b));
        }
        let referrals = self.all_referrals(ctx).await?;
        Ok(Business(super::business::for_viewer(
            v, &self.row, &referrals, b,
        )))
    }
    /// Referrals, oldest first (a partner sees its own institution's only).
    async fn referrals(&self, ctx: &Context<'_>) -> Result<Vec<Referral>> {
        let v = viewer(ctx)?;
        Ok(self
            .all_referrals(ctx)
            .await?
            .into_iter()
            .filter(|r| access::referral_visible(v, r))
            .map(Referral)
            .collect())
    }
    /// Notes, oldest first (a partner sees `PARTNERS` and `BUSINESS` notes only).
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<Note>> {
        let v = viewer(ctx)?;
        Ok(load(ctx, NotesOf(self.row.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .filter(|n| access::note_visible(v, n))
            .map(Note)
            .collect())
    }
    /// Statuses the viewer may pick for this case with `setStatus` (resolving,
    /// closing and reopening have their own actions: see `canResolve`, `canClose`, `canReopen`).
    async fn allowed_statuses(&self, ctx: &Context<'_>) -> Result<Vec<CaseStatus>> {
        Ok(self.actions(ctx).await?.allowed_statuses)
    }
    /// Whether the case is still open (neither 解決済み nor 終了).
    async fn is_open(&self) -> bool {
        crate::domain::case_state::is_open(self.row.status)
    }
    /// Whether the viewer may resolve the case now (`resolveCase`): desk staff, an
    /// open status that allows it, and no referral still pending or accepted.
    async fn can_resolve(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.actions(ctx).await?.can_resolve)
    }
    /// Whether the viewer may close the case now (`closeCase`).
    async fn can_close(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.actions(ctx).await?.can_close)
    }
    /// Whether the viewer may reopen the case now (`reopenCase`).
    async fn can_reopen(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.actions(ctx).await?.can_reopen)
    }
    /// The note visibilities the viewer may write on this case now (none once it is closed or resolved).
    async fn writable_note_visibilities(&self, ctx: &Context<'_>) -> Result<Vec<NoteVisibility>> {
        Ok(self.actions(ctx).await?.writable_note_visibilities)
    }
    /// The support record, in order (a partner does not see events about other
    /// institutions' referrals or desk-only notes).
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<CaseEvent>> {
        let v = viewer(ctx)?;
        let st = ctx.data_unchecked::<AppState>();
        Ok(crate::service::cases::events_for(st, v, self.row.id)
            .await?
            .into_iter()
            .map(CaseEvent)
            .collect())
    }
}

pub use super::business::Business;

/// A handoff of a case to a partner institution.
pub struct Referral(pub ReferralRow);

#[Object]
impl Referral {
    /// Stable opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where the handoff stands.
    async fn status(&self) -> ReferralStatus {
        self.0.status
    }
    /// Whether the handoff is still open (pending or accepted): a case holds at
    /// most one open referral per institution.
    async fn is_open(&self) -> bool {
        crate::domain::referral_state::is_open(self.0.status)
    }
    /// The partner institution it was sent to.
    async fn institution(&self, ctx: &Context<'_>) -> Result<Institution> {
        load(ctx, InstitutionKey(self.0.institution_id))
            .await?
            .map(Institution)
            .ok_or_else(|| AppError::not_found("連携機関", "Institution").into())
    }
    /// The desk's note when referring.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Why the institution declined.
    async fn reason(&self) -> Option<DeclineReason> {
        self.0.reason
    }
    /// The institution's note when accepting or declining, or the desk's when withdrawing.
    async fn decision_note(&self) -> Option<&str> {
        self.0.decision_note.as_deref()
    }
    /// The institution's summary when completing.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// End of the last business day to pick the referral up (23:59:59 JST).
    async fn pickup_deadline(&self) -> DateTime<Utc> {
        self.0.pickup_deadline
    }
    /// Still pending and past its pick-up deadline now.
    async fn overdue(&self, ctx: &Context<'_>) -> bool {
        is_overdue(&self.0, ctx.data_unchecked::<AppState>().now())
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was accepted, declined or withdrawn.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    /// When the institution completed its support.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// The desk staff member who referred it.
    async fn referred_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.referred_by).await
    }
    /// Who accepted, declined or withdrew it.
    async fn decided_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.decided_by).await
    }
    /// The case referred (`NOT_FOUND` for a partner whose institution no
    /// longer holds a visible referral on it, e.g. right after declining).
    async fn case(&self, ctx: &Context<'_>) -> Result<Case> {
        let v = viewer(ctx)?;
        let row = load(ctx, CaseKey(self.0.case_id))
            .await?
            .ok_or_else(access::case_not_found)?;
        let referrals = load(ctx, ReferralsOf(row.id)).await?.unwrap_or_default();
        if !access::can_read(v, row.lab_id, &referrals) {
            return Err(access::case_not_found().into());
        }
        Ok(Case::new(row))
    }
}

/// A note on a case.
pub struct Note(pub NoteRow);

#[Object]
impl Note {
    /// Stable opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The text of the note.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Who may read it.
    async fn visibility(&self) -> NoteVisibility {
        self.0.visibility
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.author_id).await
    }
}

/// One entry of a case's append-only, hash-chained support record.
pub struct CaseEvent(pub EventRow);

#[Object]
impl CaseEvent {
    /// Stable opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// 1, 2, … within the case.
    async fn seq(&self) -> i64 {
        self.0.seq
    }
    /// What happened.
    async fn kind(&self) -> EventKind {
        self.0.kind
    }
    /// Japanese label of the kind, e.g. 紹介の引受.
    async fn label(&self) -> &'static str {
        self.0.kind.label_ja()
    }
    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Who acted (null for the public web form or the system).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.actor_id).await
    }
    /// The timeline line of the event in the viewer's language, e.g.
    /// 「知る → 相談する」 or 「弘前大学 / 辞退 / 対応余力なし」 (empty when there is nothing to add).
    async fn summary(&self, ctx: &Context<'_>) -> String {
        crate::domain::events::EventPayload::from_json(self.0.kind, &self.0.payload.0)
            .map(|p| p.summary(super::request(ctx).lang))
            .unwrap_or_default()
    }
    /// Ids, enum values and institution names; never personal data.
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(self.0.payload.0.clone())
    }
    /// SHA-256 (hex) of the previous event of the case; 64 zeros for the first.
    async fn prev_hash(&self) -> &str {
        &self.0.prev_hash
    }
    /// SHA-256 (hex) of this event.
    async fn hash(&self) -> &str {
        &self.0.hash
    }
}

/// A case in a list, with its cursor.
#[derive(SimpleObject)]
pub struct CaseEdge {
    /// Opaque: pass it as `after` to read the next page.
    pub cursor: String,
    /// The case.
    pub node: Case,
}

/// Where a page sits in the list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More cases follow `endCursor`.
    pub has_next_page: bool,
    /// True when the page was read `after` a cursor.
    pub has_previous_page: bool,
    /// Cursor of the first edge of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A page of cases (Relay connection), newest first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CaseConnection {
    /// The cases of this page, newest first.
    pub edges: Vec<CaseEdge>,
    /// Where this page sits.
    pub page_info: PageInfo,
    #[graphql(skip)]
    pub count: crate::service::cases::CaseCount,
    /// The count, once asked for (`totalCount` and `totalCountExact` share it).
    #[graphql(skip)]
    pub total: tokio::sync::OnceCell<crate::service::cases::count::CaseTotal>,
}

impl CaseConnection {
    async fn counted(&self, ctx: &Context<'_>) -> Result<crate::service::cases::count::CaseTotal> {
        let st = ctx.data_unchecked::<AppState>();
        Ok(*self.total.get_or_try_init(|| self.count.total(st)).await?)
    }
}

#[async_graphql::ComplexObject]
impl CaseConnection {
    /// All cases matching the filter (not just this page): exact up to
    /// 1,000; above, an estimate at most a minute old (see `totalCountExact`).
    // Counted only when a query selects it.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.counted(ctx).await?.n)
    }
    /// False when `totalCount` is an estimate (more than 1,000 cases; show it
    /// as 「約12,000件」).
    async fn total_count_exact(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.counted(ctx).await?.exact)
    }
}

/// A ranked institution for a case, with the reason in Japanese.
#[derive(SimpleObject)]
pub struct InstitutionSuggestion {
    /// The institution suggested.
    pub institution: Institution,
    /// 0–100, higher is a better fit.
    pub score: f64,
    /// e.g. 「タグ一致: IoT／三八地域を担当／受諾率 80%」.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use crate::auth::Authn;
    use crate::domain::types::{Channel, Stage};
    use crate::graphql::{loaders::new_loaders, schema, RequestCtx};
    use crate::service::{cases, intake::BusinessFields, referrals};
    use crate::state::AppState;
    use crate::store::SqliteStore;
    use std::sync::Arc;

    /// A partner that just declined no longer reads the case, not even
    /// through the referral its mutation returns.
    #[tokio::test]
    async fn referral_case_edge_follows_the_partners_visibility() {
        let dir = std::env::temp_dir().join(format!("dxdesk-edge-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        /// Removes the test's database folder however the test ends.
        struct Cleanup(std::path::PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _cleanup = Cleanup(dir.clone());
        let store = SqliteStore::connect(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .unwrap();
        let config = crate::config::Config::from_lookup(|k| {
            (k == "DXDESK_JWT_SECRET")
                .then(|| "3a6AtRExuKXoEpkPaqmpKSJjtqQ2zH7otuZgJ0XRMc3L".to_owned())
        })
        .unwrap();
        let st = AppState::new(Arc::new(store), config);
        crate::seed::seed_directory(&st).await.unwrap();
        let user = |email: &'static str| {
            let st = st.clone();
            async move {
                st.store
                    .user_by_email(email)
                    .await
                    .unwrap()
                    .unwrap()
                    .viewer()
            }
        };
        let desk = user("concierge@aomori.example").await;
        let bank = user("partner.bank@aomori.example").await;
        let (snap, _) = cases::open_case(
            &st,
            &desk,
            cases::OpenCase {
                business_id: None,
                business: Some(BusinessFields {
                    name: "辞退確認株式会社".into(),
                    ..Default::default()
                }),
                title: "融資の相談".into(),
                description: "説明".into(),
                topics: vec![],
                channel: Channel::Phone,
                stage: Stage::Consult,
                consent_to_share: true,
                email_updates: false,
                priority: None,
                assigned_to: None,
            },
        )
        .await
        .unwrap();
        let r = referrals::refer_case(&st, &desk, snap.case.id, bank.institution_id, None)
            .await
            .unwrap();
        let run = |v: crate::domain::Viewer, q: String| {
            let st = st.clone();
            async move {
                let req = async_graphql::Request::new(q)
                    .data(RequestCtx {
                        authn: Authn::User(v),
                        client: "t".into(),
                        lang: Default::default(),
                    })
                    .data(new_loaders(st.store.clone()));
                let resp = schema(Some(st)).execute(req).await;
                serde_json::to_value(&resp).unwrap()
            }
        };
        let q = |tail: &str| {
            format!(
                r#"mutation {{ declineReferral(referralId: "{}", reason: NO_CAPACITY) {{ status {tail} }} }}"#,
                r.id
            )
        };
        let answer = run(bank.clone(), q("case { title }")).await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{answer}"
        );
        assert!(!answer.to_string().contains("融資の相談"), "{answer}");
        // the decline itself happened; the desk still reads the case through it
        let stored = st.store.referral(r.id).await.unwrap().unwrap();
        assert_eq!(
            stored.status,
            crate::domain::types::ReferralStatus::Declined
        );
        let q = format!(
            r#"{{ overdueReferrals {{ id }} case(id: "{}") {{ referrals {{ case {{ title }} }} }} }}"#,
            snap.case.id
        );
        let answer = run(desk, q).await;
        assert_eq!(
            answer["data"]["case"]["referrals"][0]["case"]["title"], "融資の相談",
            "{answer}"
        );
    }
}
