//! Access tokens: JWT, HS256 pinned, 15 minutes, with `iss`, `aud`, `sub`, `exp`
//! required and checked, and a small leeway. `sid` names the session family, so
//! that logging out or a detected refresh-token reuse ends the access token too.

use crate::config::Config;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "dxdesk";
pub const AUDIENCE: &str = "dxdesk-api";
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub sid: String,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn from_config(config: &Config) -> Self {
        match &config.jwt_secret {
            Some(secret) => Self::from_secret(secret),
            None => {
                let mut secret = [0u8; 48];
                rand::rngs::OsRng.fill_bytes(&mut secret);
                Self::from_secret(&secret)
            }
        }
    }

    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, user_id: Uuid, family_id: Uuid, now_unix: i64) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now_unix + ACCESS_TTL_SECS,
            iat: now_unix,
            sid: family_id.to_string(),
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Checks signature, algorithm, issuer, audience and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn keys() -> JwtKeys {
        JwtKeys::from_secret(b"0123456789abcdef0123456789abcdef")
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let (u, f) = (Uuid::new_v4(), Uuid::new_v4());
        let t = k.issue(u, f, now()).unwrap();
        let c = k.verify(&t).unwrap();
        assert_eq!(c.sub, u.to_string());
        assert_eq!(c.sid, f.to_string());
    }

    #[test]
    fn expired_other_key_and_alg_none_are_refused() {
        let k = keys();
        let t = k
            .issue(Uuid::new_v4(), Uuid::new_v4(), now() - 3600)
            .unwrap();
        assert!(k.verify(&t).is_err());
        let other = JwtKeys::from_secret(b"another-secret-another-secret-xx");
        let t = other.issue(Uuid::new_v4(), Uuid::new_v4(), now()).unwrap();
        assert!(k.verify(&t).is_err());
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(format!(
            r#"{{"sub":"{}","iss":"dxdesk","aud":"dxdesk-api","exp":{},"iat":0,"sid":"{}"}}"#,
            Uuid::new_v4(),
            now() + 600,
            Uuid::new_v4()
        ));
        assert!(k.verify(&format!("{header}.{body}.")).is_err());
    }
}
