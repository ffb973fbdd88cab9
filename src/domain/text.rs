//! Small text helpers shared by the parsers: full-width to half-width folding and hyphen-like characters.

/// Maps a full-width ASCII variant (U+FF01–U+FF5E) to its ASCII twin and the
/// ideographic space (U+3000) to a plain space; other characters are unchanged.
pub fn to_halfwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// [`to_halfwidth`] applied to every character of `s`.
pub fn halfwidth(s: &str) -> String {
    s.chars().map(to_halfwidth).collect()
}

/// Characters people type (or IMEs produce) where they mean a hyphen:
/// `-`, the Unicode hyphens and dashes U+2010–U+2015, the minus sign U+2212,
/// the full-width hyphen-minus U+FF0D, and the prolonged sound marks ー/ｰ.
pub fn is_hyphen_like(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FF0D}' | '\u{30FC}' | '\u{FF70}'
    )
}

/// Folds text for loose matching: half-width, lower case, trimmed.
pub fn fold(s: &str) -> String {
    halfwidth(s).trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width() {
        assert_eq!(halfwidth("ＡＢＣ１２３＠－"), "ABC123@-");
        assert_eq!(to_halfwidth('\u{3000}'), ' ');
        assert_eq!(to_halfwidth('あ'), 'あ');
        assert_eq!(fold("　ＩｏＴ導入 "), "iot導入");
    }

    #[test]
    fn hyphens() {
        for c in ['-', '‐', '–', '—', '−', '－', 'ー', 'ｰ'] {
            assert!(is_hyphen_like(c), "{c}");
        }
        assert!(!is_hyphen_like('_'));
    }
}
