//! The password policy (OWASP ASVS 4.0 §2.1): 12 to 128 characters, any
//! characters, no composition rules, never truncated (argon2 hashes every
//! byte), and not one of the ~20,000 most common passwords
//! (`data/common-passwords.txt`, from Django's list by Royce Williams; licence
//! in `data/common-passwords.LICENSE`).

use std::collections::HashSet;
use std::sync::OnceLock;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

const COMMON: &str = include_str!("../../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// How many passwords the shipped list holds.
pub fn common_count() -> usize {
    common().len()
}

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooShort,
    TooLong,
    Common,
}

impl Refusal {
    pub fn ja(self) -> String {
        match self {
            Refusal::TooShort => format!("パスワードは{MIN_CHARS}文字以上にしてください。"),
            Refusal::TooLong => format!("パスワードは{MAX_CHARS}文字以内にしてください。"),
            Refusal::Common => "このパスワードはよく使われていて推測されやすいため使えません。別のパスワード（長めの文など）にしてください。".to_owned(),
        }
    }
    pub fn en(self) -> String {
        match self {
            Refusal::TooShort => format!("The password must be at least {MIN_CHARS} characters long."),
            Refusal::TooLong => format!("The password must be at most {MAX_CHARS} characters long."),
            Refusal::Common => "This password is too common and easy to guess; choose another (a longer phrase works well).".to_owned(),
        }
    }
}

/// Checks a password against the policy. Characters are Unicode scalar values;
/// the common list is compared case-insensitively (it is lower-case).
pub fn check(password: &str) -> Result<(), Refusal> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(Refusal::TooShort);
    }
    if n > MAX_CHARS {
        return Err(Refusal::TooLong);
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(Refusal::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_large_enough() {
        assert!(common_count() >= 10_000, "{}", common_count());
    }

    #[test]
    fn policy() {
        assert_eq!(check("password1234"), Err(Refusal::Common));
        assert_eq!(check("PASSWORD1234"), Err(Refusal::Common));
        assert_eq!(check("short"), Err(Refusal::TooShort));
        assert_eq!(check("ひらがなだけのながいぱすわーど"), Ok(()));
        assert_eq!(check("correct horse battery"), Ok(()));
        assert_eq!(check(&"x".repeat(128)), Ok(()));
        assert_eq!(check(&"x".repeat(129)), Err(Refusal::TooLong));
        // 12 characters of 3 bytes each: counted as characters, not bytes.
        assert_eq!(check(&"あ".repeat(12)), Ok(()));
        assert_eq!(check(&"あ".repeat(11)), Err(Refusal::TooShort));
    }

    #[test]
    fn no_composition_rules() {
        assert_eq!(check("all lower case words"), Ok(()));
    }
}
