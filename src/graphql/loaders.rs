//! DataLoaders, one per foreign key, so nested fields cost one query per kind
//! of row, not one per parent. Created per request (the cache is the request's).

use crate::error::AppError;
use crate::store::{
    BusinessRow, CaseRow, InstitutionRow, NoteRow, ReferralRow, SharedStore, UserRow,
};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserKey(pub Uuid);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstitutionKey(pub Uuid);

pub struct StoreLoader {
    pub store: SharedStore,
}

/// Cached for the request (async-graphql's plain `DataLoader::new` caches
/// nothing, so rows prefetched for a page would be read again per node).
pub type Loaders = DataLoader<StoreLoader, HashMapCache>;

pub fn new_loaders(store: SharedStore) -> Loaders {
    DataLoader::with_cache(StoreLoader { store }, tokio::spawn, HashMapCache::default())
}

/// The loader's error must be cloneable; the cause is logged where it happens.
pub type LoadError = Arc<async_graphql::Error>;

fn load_err(e: AppError) -> LoadError {
    Arc::new(e.into())
}

impl Loader<UserKey> for StoreLoader {
    type Value = UserRow;
    type Error = LoadError;
    async fn load(&self, keys: &[UserKey]) -> Result<HashMap<UserKey, UserRow>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.users_by_ids(&ids).await.map_err(load_err)?;
        Ok(rows.into_iter().map(|r| (UserKey(r.id), r)).collect())
    }
}

impl Loader<InstitutionKey> for StoreLoader {
    type Value = InstitutionRow;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[InstitutionKey],
    ) -> Result<HashMap<InstitutionKey, InstitutionRow>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .store
            .institutions_by_ids(&ids)
            .await
            .map_err(load_err)?;
        Ok(rows
            .into_iter()
            .map(|r| (InstitutionKey(r.id), r))
            .collect())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BusinessKey(pub Uuid);
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CaseKey(pub Uuid);
/// The topics of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicsOf(pub Uuid);
/// The referrals of a case, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReferralsOf(pub Uuid);
/// The notes of a case, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NotesOf(pub Uuid);

impl Loader<BusinessKey> for StoreLoader {
    type Value = BusinessRow;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[BusinessKey],
    ) -> Result<HashMap<BusinessKey, BusinessRow>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.businesses_by_ids(&ids).await.map_err(load_err)?;
        Ok(rows.into_iter().map(|r| (BusinessKey(r.id), r)).collect())
    }
}

impl Loader<CaseKey> for StoreLoader {
    type Value = CaseRow;
    type Error = LoadError;
    async fn load(&self, keys: &[CaseKey]) -> Result<HashMap<CaseKey, CaseRow>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.cases_by_ids(&ids).await.map_err(load_err)?;
        Ok(rows.into_iter().map(|r| (CaseKey(r.id), r)).collect())
    }
}

/// Groups rows by case id, with an (empty) entry for every requested case.
fn by_case<K, V>(
    keys: &[K],
    key_id: impl Fn(&K) -> Uuid,
    make: impl Fn(Uuid) -> K,
    rows: impl IntoIterator<Item = (Uuid, V)>,
) -> HashMap<K, Vec<V>>
where
    K: std::hash::Hash + Eq,
{
    let mut out: HashMap<K, Vec<V>> = keys.iter().map(|k| (make(key_id(k)), Vec::new())).collect();
    for (case_id, v) in rows {
        if let Some(list) = out.get_mut(&make(case_id)) {
            list.push(v);
        }
    }
    out
}

impl Loader<TopicsOf> for StoreLoader {
    type Value = Vec<String>;
    type Error = LoadError;
    async fn load(&self, keys: &[TopicsOf]) -> Result<HashMap<TopicsOf, Vec<String>>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.topics_for_cases(&ids).await.map_err(load_err)?;
        Ok(by_case(keys, |k| k.0, TopicsOf, rows))
    }
}

impl Loader<ReferralsOf> for StoreLoader {
    type Value = Vec<ReferralRow>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[ReferralsOf],
    ) -> Result<HashMap<ReferralsOf, Vec<ReferralRow>>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .store
            .referrals_for_cases(&ids)
            .await
            .map_err(load_err)?;
        Ok(by_case(
            keys,
            |k| k.0,
            ReferralsOf,
            rows.into_iter().map(|r| (r.case_id, r)),
        ))
    }
}

impl Loader<NotesOf> for StoreLoader {
    type Value = Vec<NoteRow>;
    type Error = LoadError;
    async fn load(&self, keys: &[NotesOf]) -> Result<HashMap<NotesOf, Vec<NoteRow>>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.notes_for_cases(&ids).await.map_err(load_err)?;
        Ok(by_case(
            keys,
            |k| k.0,
            NotesOf,
            rows.into_iter().map(|n| (n.case_id, n)),
        ))
    }
}

/// Forgets everything loaded about cases in this request: a mutation calls it
/// after writing, so that later fields (and later mutations of the same
/// request) read fresh rows.
pub fn forget_cases(l: &Loaders) {
    l.clear::<CaseKey>();
    l.clear::<TopicsOf>();
    l.clear::<ReferralsOf>();
    l.clear::<NotesOf>();
    l.clear::<BusinessKey>();
}

/// Turns a loader error back into a GraphQL error.
pub fn from_load(e: LoadError) -> async_graphql::Error {
    (*e).clone()
}
