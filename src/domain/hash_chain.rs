//! The tamper-evident hash chain of case events: canonical serialisation, event hashes and chain verification.
//!
//! `hash = hex SHA-256` of these fields joined by `'\n'` (no trailing newline):
//!
//! 1. `case_id` — lower-case hyphenated UUID
//! 2. `seq` — decimal (1, 2, … per case)
//! 3. `kind` — the `EventKind` name, e.g. `STATUS_CHANGED`
//! 4. `actor` — lower-case hyphenated UUID, or the empty string when there is none
//! 5. `at` — RFC 3339 in UTC with exactly 6 fractional digits and `Z`
//!    (`2026-04-01T00:00:00.000000Z`); finer precision is truncated, matching
//!    what the databases store
//! 6. `payload` — [`canonical_json`]
//! 7. `prev_hash` — the previous event's `hash`, [`GENESIS`] for the first
//!
//! No field can contain a raw newline (canonical JSON escapes them), so the
//! serialisation is unambiguous.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::types::EventKind;

/// `prev_hash` of the first event of a case: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// JSON with object keys sorted (by their UTF-8 bytes) at every level, no
/// insignificant whitespace, strings escaped as serde_json does, numbers as
/// serde_json prints them. Payloads should hold strings, integers, booleans,
/// arrays and objects; floats are printed faithfully but a database may
/// reformat them.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => push_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(k, out);
                out.push(':');
                write_canonical(val, out);
            }
            out.push('}');
        }
    }
}

fn push_json_string(s: &str, out: &mut String) {
    // Serialising a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// `at` as hashed: RFC 3339, UTC, microseconds, `Z`.
pub fn format_at(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `at` truncated to whole microseconds (what the databases keep). Hashing
/// already ignores finer precision; use this to store exactly what was hashed.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.nanosecond();
    at.with_nanosecond(nanos - nanos % 1_000).unwrap_or(at)
}

/// The hash of one event (see the module docs for the exact serialisation).
pub fn event_hash(
    case_id: Uuid,
    seq: i64,
    kind: EventKind,
    actor: Option<Uuid>,
    at: DateTime<Utc>,
    payload: &Value,
    prev_hash: &str,
) -> String {
    let actor = actor
        .map(|a| a.hyphenated().to_string())
        .unwrap_or_default();
    let text = [
        case_id.hyphenated().to_string(),
        seq.to_string(),
        kind.as_str().to_owned(),
        actor,
        format_at(at),
        canonical_json(payload),
        prev_hash.to_owned(),
    ]
    .join("\n");
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// One stored event, as far as the chain is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainLink {
    pub case_id: Uuid,
    pub seq: i64,
    pub kind: EventKind,
    pub actor: Option<Uuid>,
    pub at: DateTime<Utc>,
    pub payload: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl ChainLink {
    /// A new link following `prev` (or the first of its case when `prev` is
    /// `None`): `seq` and `prev_hash` are taken from `prev`, `at` is truncated
    /// to microseconds and `hash` is computed.
    pub fn next(
        prev: Option<&ChainLink>,
        case_id: Uuid,
        kind: EventKind,
        actor: Option<Uuid>,
        at: DateTime<Utc>,
        payload: Value,
    ) -> ChainLink {
        match prev {
            Some(p) => Self::after(p.seq, &p.hash, case_id, kind, actor, at, payload),
            None => Self::after(0, GENESIS, case_id, kind, actor, at, payload),
        }
    }

    /// A new link after the event numbered `prev_seq` whose hash is
    /// `prev_hash` — what a case row keeps of its chain (0 and [`GENESIS`]
    /// before the first event).
    pub fn after(
        prev_seq: i64,
        prev_hash: &str,
        case_id: Uuid,
        kind: EventKind,
        actor: Option<Uuid>,
        at: DateTime<Utc>,
        payload: Value,
    ) -> ChainLink {
        let mut link = ChainLink {
            case_id,
            seq: prev_seq + 1,
            kind,
            actor,
            at: truncate_to_micros(at),
            payload,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        link.hash = link.expected_hash();
        link
    }

    /// The hash this link should carry, recomputed from its fields.
    pub fn expected_hash(&self) -> String {
        event_hash(
            self.case_id,
            self.seq,
            self.kind,
            self.actor,
            self.at,
            &self.payload,
            &self.prev_hash,
        )
    }
}

/// Verifies the whole chain of one case, in `seq` order. Returns the index of
/// the first broken link: a different `case_id` than the first link, a `seq`
/// other than index + 1, a `prev_hash` other than the previous link's hash
/// ([`GENESIS`] for the first), or a `hash` that does not match the fields.
/// Hashes are compared exactly (lower-case hex).
pub fn verify_chain(events: &[ChainLink]) -> Result<(), usize> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let mut expected_prev: &str = GENESIS;
    for (i, e) in events.iter().enumerate() {
        let ok = e.case_id == first.case_id
            && e.seq == i as i64 + 1
            && e.prev_hash == expected_prev
            && e.hash == e.expected_hash();
        if !ok {
            return Err(i);
        }
        expected_prev = &e.hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn chain(n: usize) -> Vec<ChainLink> {
        let case = Uuid::parse_str("0190a5f0-0000-7000-8000-000000000001").unwrap();
        let actor = Some(Uuid::parse_str("0190a5f0-0000-7000-8000-0000000000aa").unwrap());
        let t0 = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let kinds = [
            EventKind::Opened,
            EventKind::StatusChanged,
            EventKind::Referred,
            EventKind::Accepted,
            EventKind::NoteAdded,
        ];
        let mut out: Vec<ChainLink> = Vec::new();
        for i in 0..n {
            let link = ChainLink::next(
                out.last(),
                case,
                kinds[i % kinds.len()],
                if i == 0 { None } else { actor },
                t0 + chrono::Duration::microseconds(1_000_123 * i as i64),
                json!({"i": i, "z": "last", "a": {"y": [1, 2], "x": null}}),
            );
            out.push(link);
        }
        out
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v = json!({"b": 1, "a": {"d": [true, null, "x\ny"], "c": "日本語"}, "A": -1.5});
        assert_eq!(
            canonical_json(&v),
            r#"{"A":-1.5,"a":{"c":"日本語","d":[true,null,"x\ny"]},"b":1}"#
        );
        // insertion order does not matter
        let mut m1 = serde_json::Map::new();
        m1.insert("x".into(), json!(1));
        m1.insert("y".into(), json!(2));
        let mut m2 = serde_json::Map::new();
        m2.insert("y".into(), json!(2));
        m2.insert("x".into(), json!(1));
        assert_eq!(
            canonical_json(&Value::Object(m1)),
            canonical_json(&Value::Object(m2))
        );
    }

    #[test]
    fn known_vector() {
        let case = Uuid::nil();
        let at = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        let h = event_hash(case, 1, EventKind::Opened, None, at, &json!({}), GENESIS);
        let text = format!(
            "00000000-0000-0000-0000-000000000000\n1\nOPENED\n\n2026-04-01T00:00:00.000000Z\n{{}}\n{GENESIS}"
        );
        assert_eq!(h, hex::encode(Sha256::digest(text.as_bytes())));
        assert_eq!(h.len(), 64);
        assert_eq!(GENESIS.len(), 64);
    }

    #[test]
    fn nanoseconds_do_not_matter() {
        let at = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(1_234_567);
        assert_eq!(format_at(at), "2026-04-01T00:00:00.001234Z");
        assert_eq!(format_at(truncate_to_micros(at)), format_at(at));
        assert_eq!(truncate_to_micros(at).nanosecond(), 1_234_000);
    }

    #[test]
    fn valid_chain_verifies() {
        assert_eq!(verify_chain(&[]), Ok(()));
        let c = chain(6);
        assert_eq!(c[0].prev_hash, GENESIS);
        assert_eq!(c[3].seq, 4);
        assert_eq!(verify_chain(&c), Ok(()));
    }

    #[test]
    fn tampering_is_detected() {
        let base = chain(6);

        let mut c = base.clone();
        c[2].payload = json!({"i": 2, "z": "edited"});
        assert_eq!(verify_chain(&c), Err(2));

        let mut c = base.clone();
        c[3].kind = EventKind::Declined;
        assert_eq!(verify_chain(&c), Err(3));

        let mut c = base.clone();
        c[1].actor = None;
        assert_eq!(verify_chain(&c), Err(1));

        let mut c = base.clone();
        c[4].at += chrono::Duration::seconds(1);
        assert_eq!(verify_chain(&c), Err(4));

        // re-hashing an edited event breaks the next link
        let mut c = base.clone();
        c[2].payload = json!({"forged": true});
        c[2].hash = c[2].expected_hash();
        assert_eq!(verify_chain(&c), Err(3));

        // a deleted event
        let mut c = base.clone();
        c.remove(1);
        assert_eq!(verify_chain(&c), Err(1));

        // swapped events
        let mut c = base.clone();
        c.swap(3, 4);
        assert_eq!(verify_chain(&c), Err(3));

        // an event of another case
        let mut c = base.clone();
        c[5].case_id = Uuid::nil();
        c[5].hash = c[5].expected_hash();
        assert_eq!(verify_chain(&c), Err(5));

        // the first event must start from GENESIS
        let mut c = base;
        c[0].prev_hash = "f".repeat(64);
        assert_eq!(verify_chain(&c), Err(0));
    }
}
