//! Parsed GraphQL documents by their query text, so the operations a client
//! sends again and again (the web front end's few dozen) skip the parser.
//! A cache of a pure function: each instance keeps its own, nothing is shared.

use async_graphql::parser::types::ExecutableDocument;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// At most this many documents; a full cache starts afresh (a flood of
/// distinct queries costs a parse each, as without the cache).
const MAX_ENTRIES: usize = 256;
/// Longer queries are parsed every time (the web front end's are ~1–3 KiB).
const MAX_QUERY_BYTES: usize = 16 * 1024;

#[derive(Default)]
pub struct ParseCache {
    docs: Mutex<HashMap<Arc<str>, Arc<ExecutableDocument>>>,
}

impl std::fmt::Debug for ParseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseCache")
            .field("len", &self.len())
            .finish()
    }
}

impl ParseCache {
    /// The document parsed earlier from exactly this text.
    pub fn get(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.docs.lock().ok()?.get(query).cloned()
    }

    /// Keeps `doc` as the parse of `query`.
    pub fn put(&self, query: &str, doc: Arc<ExecutableDocument>) {
        if query.len() > MAX_QUERY_BYTES {
            return;
        }
        if let Ok(mut docs) = self.docs.lock() {
            if docs.len() >= MAX_ENTRIES {
                docs.clear();
            }
            docs.insert(query.into(), doc);
        }
    }

    pub fn len(&self) -> usize {
        self.docs.lock().map(|d| d.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn doc(q: &str) -> Arc<ExecutableDocument> {
        Arc::new(parse_query(q).unwrap())
    }

    #[test]
    fn gives_back_the_document_of_exactly_that_text() {
        let c = ParseCache::default();
        assert!(c.get("{ me { id } }").is_none());
        c.put("{ me { id } }", doc("{ me { id } }"));
        let got = c.get("{ me { id } }").expect("cached");
        assert_eq!(format!("{got:?}"), format!("{:?}", doc("{ me { id } }")));
        assert!(
            c.get("{ me { id }}").is_none(),
            "another text, another entry"
        );
    }

    #[test]
    fn stays_bounded_and_skips_long_queries() {
        let c = ParseCache::default();
        for i in 0..MAX_ENTRIES + 10 {
            let q = format!("{{ a{i} }}");
            c.put(&q, doc(&q));
            assert!(c.len() <= MAX_ENTRIES);
        }
        let long = format!("{{ {} }}", "a ".repeat(MAX_QUERY_BYTES));
        c.put(&long, doc("{ a }"));
        assert!(c.get(&long).is_none());
    }
}
