//! DataLoaders, one per foreign key, so nested fields cost one query per kind
//! of row, not one per parent. Created per request (the cache is the request's).

use crate::error::AppError;
use crate::store::{InstitutionRow, SharedStore, UserRow};
use async_graphql::dataloader::{DataLoader, Loader};
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

pub type Loaders = DataLoader<StoreLoader>;

pub fn new_loaders(store: SharedStore) -> Loaders {
    DataLoader::new(StoreLoader { store }, tokio::spawn)
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

/// Turns a loader error back into a GraphQL error.
pub fn from_load(e: LoadError) -> async_graphql::Error {
    (*e).clone()
}
