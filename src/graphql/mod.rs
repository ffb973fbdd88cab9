//! The GraphQL API: the schema builder shared by the server, the tests and the
//! SDL file, the per-request context, and one module per area.

pub mod accounts;
pub mod business;
pub mod case_types;
pub mod cases;
pub mod erasure;
pub mod institutions;
pub mod live;
pub mod loaders;
pub mod notes;
pub mod notify;
pub mod referrals;
pub mod reports;
pub mod status;
pub mod types;
pub mod users;

use crate::auth::Authn;
use crate::domain::permissions::Viewer;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use async_graphql::{Context, MergedObject, MergedSubscription, Schema, ID};
use uuid::Uuid;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    users::UserQuery,
    institutions::InstitutionQuery,
    cases::CasesQuery,
    referrals::ReferralsQuery,
    status::StatusQuery,
    reports::ReportQuery,
    business::BusinessQuery,
    notify::NotifyQuery,
    accounts::AccountQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    users::UserMutation,
    institutions::InstitutionMutation,
    cases::CasesMutation,
    referrals::ReferralsMutation,
    notes::NotesMutation,
    erasure::ErasureMutation,
    status::StatusMutation,
    reports::ReportMutation,
    business::BusinessMutation,
    notify::NotifyMutation,
    accounts::AccountMutation,
);

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(live::LiveSubscription);

pub type DxSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits on every request.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 5_000;
pub const MAX_ALIASES: usize = 30;

/// The complexity of a list field taking `first`: each of the (up to) `first`
/// items costs what its selection costs, with the page size the service uses
/// (`first` absent: the default page; larger than the maximum: the maximum).
pub fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    use crate::service::cases::{DEFAULT_PAGE, MAX_PAGE};
    let items = first.map_or(DEFAULT_PAGE, |n| i64::from(n).clamp(0, MAX_PAGE));
    usize::try_from(items)
        .unwrap_or(0)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// The schema, with the state attached (`None` for SDL export only).
pub fn schema(state: Option<AppState>) -> DxSchema {
    let production = state
        .as_ref()
        .map(|s| s.config.is_production())
        .unwrap_or(false);
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(10);
    if production {
        // No schema discovery in production: neither introspection nor "Did you mean …".
        builder = builder.disable_introspection().disable_suggestions();
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL written to `schema/schema.graphql`.
pub fn sdl() -> String {
    schema(None).sdl()
}

/// What a request knows about its caller.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    pub authn: Authn,
    /// The client address, for throttling.
    pub client: String,
    /// The caller's language (`Accept-Language`), for texts the API writes.
    pub lang: crate::domain::labels::Lang,
}

pub fn state<'a>(ctx: &'a Context<'_>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub fn request<'a>(ctx: &'a Context<'_>) -> &'a RequestCtx {
    ctx.data_unchecked::<RequestCtx>()
}

/// The signed-in viewer, or `UNAUTHENTICATED` saying why.
pub fn viewer<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Viewer> {
    match &request(ctx).authn {
        Authn::User(v) => Ok(v),
        Authn::Anonymous => Err(AppError::unauthenticated()),
        Authn::Invalid(ja, en) => Err(AppError::Unauthenticated(crate::error::Msg::new(*ja, *en))),
    }
}

/// The viewer, who must be desk staff (admin or concierge).
pub fn desk<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Viewer> {
    let v = viewer(ctx)?;
    crate::domain::permissions::require_desk(v)?;
    Ok(v)
}

/// The viewer, who must be an admin of the lab (the secretariat).
pub fn admin<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Viewer> {
    let v = viewer(ctx)?;
    crate::domain::permissions::require_admin(v)?;
    Ok(v)
}

/// Parses an ID; a malformed one is simply not found.
pub fn parse_id(id: &ID, what_ja: &str, what_en: &str) -> AppResult<Uuid> {
    id.parse::<Uuid>()
        .map_err(|_| AppError::not_found(what_ja, what_en))
}
