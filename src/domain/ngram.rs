//! Character bigrams for the case search index: a text contains a term only if
//! it contains every bigram of the term, so the index of bigrams narrows the
//! candidates and the substring check (`LIKE`) decides.

use std::collections::BTreeSet;

/// At most this many bigrams of a term are looked up: any subset of them still
/// finds every case that contains the term (the recheck decides), and more
/// lookups cost more than they narrow for long terms.
pub const MAX_TERM_GRAMS: usize = 12;

/// The distinct bigrams (two consecutive characters) of `text`, in order of
/// first appearance. A text of fewer than two characters has none.
pub fn bigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for w in chars.windows(2) {
        let g: String = w.iter().collect();
        if seen.insert(g.clone()) {
            out.push(g);
        }
    }
    out
}

/// The bigrams looked up for a search term that is already lowercased as the
/// `LIKE` pattern is (`str::to_lowercase`); `None` when the term has fewer
/// than two characters (such a search scans instead).
pub fn term_grams(lowered: &str) -> Option<Vec<String>> {
    let mut g = bigrams(lowered);
    if g.is_empty() {
        return None;
    }
    g.truncate(MAX_TERM_GRAMS);
    Some(g)
}

/// SQLite's built-in `LOWER()`: ASCII letters only (it has no Unicode tables
/// unless built with ICU, which the bundled library is not).
pub fn sqlite_lower(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// A bigram as an FTS5 token: its UTF-8 bytes in lowercase hex, so that no
/// tokenizer splits or folds it (spaces, `%`, `_`, CJK all survive).
pub fn hex_token(gram: &str) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(gram.len() * 2);
    for b in gram.bytes() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The FTS5 document of a case on SQLite: the hex tokens of the bigrams of
/// each field lowered as SQLite lowers it, fields kept apart (no bigram spans
/// two fields), separated by spaces.
pub fn sqlite_document(fields: &[&str]) -> String {
    let mut grams = BTreeSet::new();
    for f in fields {
        grams.extend(bigrams(&sqlite_lower(f)));
    }
    grams
        .iter()
        .map(|g| hex_token(g))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The FTS5 query for the bigrams of a term: all of them (implicit AND).
pub fn sqlite_match(grams: &[String]) -> String {
    grams
        .iter()
        .map(|g| format!("\"{}\"", hex_token(g)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bigrams_of_japanese_and_short_texts() {
        assert_eq!(bigrams("在庫管理"), ["在庫", "庫管", "管理"]);
        assert_eq!(bigrams("ああああ"), ["ああ"]);
        assert!(bigrams("在").is_empty());
        assert!(bigrams("").is_empty());
        assert_eq!(term_grams("在庫"), Some(vec!["在庫".to_owned()]));
        assert_eq!(term_grams("x"), None);
        assert_eq!(term_grams(&"あい".repeat(20)).unwrap().len(), 2);
        let long: String = ('a'..='z').collect();
        assert_eq!(term_grams(&long).unwrap().len(), MAX_TERM_GRAMS);
    }

    #[test]
    fn tokens_survive_any_tokenizer() {
        assert_eq!(hex_token("在庫"), "e59ca8e5baab");
        assert_eq!(hex_token("0%"), "3025");
        assert_eq!(sqlite_match(&["a ".into()]), "\"6120\"");
        // SQLite lowers ASCII only; Rust's to_lowercase does more.
        assert_eq!(sqlite_lower("ABC Ä Ｚ"), "abc Ä Ｚ");
        assert_eq!(sqlite_document(&["Ab", "ab", "c"]), "6162");
    }

    proptest! {
        /// The index property: a text containing a term contains each of the
        /// term's bigrams, so no case containing the term is left out.
        #[test]
        fn a_text_holding_a_term_holds_its_grams(
            pre in "[a-zA-Z0-9%_\\\\ 在庫管理のデジタル]{0,8}",
            term in "[a-zA-Z0-9%_\\\\ 在庫管理のデジタル]{0,8}",
            post in "[a-zA-Z0-9%_\\\\ 在庫管理のデジタル]{0,8}",
        ) {
            let text = format!("{pre}{term}{post}");
            let doc: BTreeSet<String> = bigrams(&text).into_iter().collect();
            if let Some(grams) = term_grams(&term) {
                for g in grams {
                    prop_assert!(doc.contains(&g), "{g:?} of {term:?} missing in {text:?}");
                }
            }
            let tokens: BTreeSet<String> = sqlite_document(&[&text]).split(' ').map(str::to_owned).collect();
            if let Some(grams) = term_grams(&sqlite_lower(&term)) {
                for g in grams {
                    prop_assert!(tokens.contains(&hex_token(&g)));
                }
            }
        }
    }
}
