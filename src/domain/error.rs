//! `DomainError`: the two ways a domain rule can refuse something (bad input, or a conflict with the current state).

/// An error raised by a domain rule. The `Display` text is the Japanese
/// message (the UI's default language); the English twin is in `en`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Bad input: maps to BAD_USER_INPUT. `field` is the GraphQL input field name (camelCase) if any.
    #[error("{ja}")]
    Invalid {
        field: Option<String>,
        ja: String,
        en: String,
    },
    /// A rule forbids it in the current state: maps to CONFLICT.
    #[error("{ja}")]
    Conflict { ja: String, en: String },
}

impl DomainError {
    /// Bad input, optionally naming the offending GraphQL input field.
    pub fn invalid(field: Option<&str>, ja: impl Into<String>, en: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.map(str::to_owned),
            ja: ja.into(),
            en: en.into(),
        }
    }

    /// Refused by a rule in the current state.
    pub fn conflict(ja: impl Into<String>, en: impl Into<String>) -> Self {
        DomainError::Conflict {
            ja: ja.into(),
            en: en.into(),
        }
    }

    /// The Japanese message (same as `to_string()`).
    pub fn message_ja(&self) -> &str {
        match self {
            DomainError::Invalid { ja, .. } | DomainError::Conflict { ja, .. } => ja,
        }
    }

    /// The English twin of the message.
    pub fn message_en(&self) -> &str {
        match self {
            DomainError::Invalid { en, .. } | DomainError::Conflict { en, .. } => en,
        }
    }

    /// The input field named by an `Invalid` error, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            DomainError::Invalid { field, .. } => field.as_deref(),
            DomainError::Conflict { .. } => None,
        }
    }

    /// The GraphQL `extensions.code` this error maps to.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid { .. } => "BAD_USER_INPUT",
            DomainError::Conflict { .. } => "CONFLICT",
        }
    }
}

/// Result of a domain rule.
pub type DomainResult<T> = Result<T, DomainError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_carries_field_and_both_languages() {
        let e = DomainError::invalid(Some("email"), "メールアドレスが不正です", "Invalid email");
        assert_eq!(e.to_string(), "メールアドレスが不正です");
        assert_eq!(e.field(), Some("email"));
        assert_eq!(e.message_en(), "Invalid email");
        assert_eq!(e.code(), "BAD_USER_INPUT");
    }

    #[test]
    fn conflict_has_no_field() {
        let e = DomainError::conflict("変更できません", "Cannot change");
        assert_eq!(e.field(), None);
        assert_eq!(e.message_ja(), "変更できません");
        assert_eq!(e.code(), "CONFLICT");
    }
}
