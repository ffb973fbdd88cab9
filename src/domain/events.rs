//! The support record's event payloads, typed: one variant per event kind, so
//! that every place that decides on an event (who may see it, how it reads)
//! matches them exhaustively and a new kind cannot slip through unnoticed.
//!
//! The JSON form (`to_json`) is what the hash chain covers: it must stay
//! byte-identical (after `hash_chain::canonical_json`) for events already
//! written. Payloads hold ids, enum values and institution names only, never
//! free text or the business's contact data.

use super::labels::Lang;
use super::types::{
    CaseStatus, Channel, DeclineReason, EventKind, NoteVisibility, Outcome, Priority,
    ReferralStatus, Stage,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `OPENED`: how the case came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Opened {
    pub reference: String,
    pub stage: Stage,
    pub channel: Channel,
    pub consent_to_share: bool,
    pub priority: Priority,
    pub topics: Vec<String>,
}

/// A change of one value (`STAGE_CHANGED`, `STATUS_CHANGED`, `REOPENED`, `CLOSED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    pub from: T,
    pub to: T,
}

/// `RESOLVED`: the status change and the outcome codes (the summary stays on the case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub from: CaseStatus,
    pub to: CaseStatus,
    pub outcomes: Vec<Outcome>,
}

/// `UPDATED`: the names of the edited fields (never their values), and the new
/// consent to share when it changed (a fact of the record, not personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_to_share: Option<bool>,
}

/// A referral event (`REFERRED`, `ACCEPTED`, `DECLINED`, `WITHDRAWN`, `COMPLETED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralEvent {
    pub referral_id: Uuid,
    pub institution_id: Uuid,
    pub institution_name: String,
    pub status: ReferralStatus,
    /// While pending: the pick-up deadline as `hash_chain::format_at` writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_deadline: Option<String>,
    /// When declined: the reason code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DeclineReason>,
    /// When withdrawn by the system rather than by hand: why, as a fixed
    /// phrase (`consent withdrawn`), never free text.
    #[serde(
        default,
        rename = "withdrawReason",
        skip_serializing_if = "Option::is_none"
    )]
    pub withdraw_reason: Option<String>,
}

/// Why a referral was withdrawn when the business withdrew its consent.
pub const CONSENT_WITHDRAWN: &str = "consent withdrawn";

/// `NOTE_ADDED`: the note's id and visibility (never its body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoteAdded {
    pub note_id: Uuid,
    pub visibility: NoteVisibility,
}

/// `PERSONAL_DATA_ERASED`: which business was erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Erased {
    pub business_id: Uuid,
}

/// `BUSINESS_MERGED`: the case's business record `from` was merged into `into`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Merged {
    pub from_business_id: Uuid,
    pub into_business_id: Uuid,
}

/// `DATA_EXPORTED`: the business's data was disclosed (APPI art. 33).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    pub business_id: Uuid,
}

/// An event's payload; its variant is its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPayload {
    Opened(Opened),
    StageChanged(Change<Stage>),
    StatusChanged(Change<CaseStatus>),
    Updated(Updated),
    Referred(ReferralEvent),
    Accepted(ReferralEvent),
    Declined(ReferralEvent),
    Withdrawn(ReferralEvent),
    Completed(ReferralEvent),
    NoteAdded(NoteAdded),
    Resolved(Resolved),
    Reopened(Change<CaseStatus>),
    Closed(Change<CaseStatus>),
    AccessCodeRotated,
    PersonalDataErased(Erased),
    BusinessMerged(Merged),
    DataExported(Exported),
}

impl EventPayload {
    /// The event kind this payload records.
    pub fn kind(&self) -> EventKind {
        match self {
            EventPayload::Opened(_) => EventKind::Opened,
            EventPayload::StageChanged(_) => EventKind::StageChanged,
            EventPayload::StatusChanged(_) => EventKind::StatusChanged,
            EventPayload::Updated(_) => EventKind::Updated,
            EventPayload::Referred(_) => EventKind::Referred,
            EventPayload::Accepted(_) => EventKind::Accepted,
            EventPayload::Declined(_) => EventKind::Declined,
            EventPayload::Withdrawn(_) => EventKind::Withdrawn,
            EventPayload::Completed(_) => EventKind::Completed,
            EventPayload::NoteAdded(_) => EventKind::NoteAdded,
            EventPayload::Resolved(_) => EventKind::Resolved,
            EventPayload::Reopened(_) => EventKind::Reopened,
            EventPayload::Closed(_) => EventKind::Closed,
            EventPayload::AccessCodeRotated => EventKind::AccessCodeRotated,
            EventPayload::PersonalDataErased(_) => EventKind::PersonalDataErased,
            EventPayload::BusinessMerged(_) => EventKind::BusinessMerged,
            EventPayload::DataExported(_) => EventKind::DataExported,
        }
    }

    /// A status change recorded under the kind the transition rule names.
    pub fn status_change(kind: EventKind, from: CaseStatus, to: CaseStatus) -> Self {
        let c = Change { from, to };
        match kind {
            EventKind::Reopened => EventPayload::Reopened(c),
            EventKind::Closed => EventPayload::Closed(c),
            _ => EventPayload::StatusChanged(c),
        }
    }

    /// A referral event under the kind its new status records.
    pub fn referral(r: ReferralEvent) -> Self {
        match r.status {
            ReferralStatus::Pending => EventPayload::Referred(r),
            ReferralStatus::Accepted => EventPayload::Accepted(r),
            ReferralStatus::Declined => EventPayload::Declined(r),
            ReferralStatus::Withdrawn => EventPayload::Withdrawn(r),
            ReferralStatus::Completed => EventPayload::Completed(r),
        }
    }

    /// The referral an event is about, if it is a referral event.
    pub fn referral_event(&self) -> Option<&ReferralEvent> {
        match self {
            EventPayload::Referred(r)
            | EventPayload::Accepted(r)
            | EventPayload::Declined(r)
            | EventPayload::Withdrawn(r)
            | EventPayload::Completed(r) => Some(r),
            _ => None,
        }
    }

    /// The JSON stored with the event (and covered by the hash chain).
    pub fn to_json(&self) -> Value {
        fn v<T: Serialize>(x: &T) -> Value {
            serde_json::to_value(x).expect("payloads serialise")
        }
        match self {
            EventPayload::Opened(p) => v(p),
            EventPayload::StageChanged(p) => v(p),
            EventPayload::StatusChanged(p)
            | EventPayload::Reopened(p)
            | EventPayload::Closed(p) => v(p),
            EventPayload::Updated(p) => v(p),
            EventPayload::Referred(p)
            | EventPayload::Accepted(p)
            | EventPayload::Declined(p)
            | EventPayload::Withdrawn(p)
            | EventPayload::Completed(p) => v(p),
            EventPayload::NoteAdded(p) => v(p),
            EventPayload::Resolved(p) => v(p),
            EventPayload::AccessCodeRotated => Value::Object(Default::default()),
            EventPayload::PersonalDataErased(p) => v(p),
            EventPayload::BusinessMerged(p) => v(p),
            EventPayload::DataExported(p) => v(p),
        }
    }

    /// Reads a stored payload of `kind`.
    pub fn from_json(kind: EventKind, json: &Value) -> Result<Self, serde_json::Error> {
        fn de<T: serde::de::DeserializeOwned>(j: &Value) -> Result<T, serde_json::Error> {
            T::deserialize(j)
        }
        Ok(match kind {
            EventKind::Opened => EventPayload::Opened(de(json)?),
            EventKind::StageChanged => EventPayload::StageChanged(de(json)?),
            EventKind::StatusChanged => EventPayload::StatusChanged(de(json)?),
            EventKind::Updated => EventPayload::Updated(de(json)?),
            EventKind::Referred => EventPayload::Referred(de(json)?),
            EventKind::Accepted => EventPayload::Accepted(de(json)?),
            EventKind::Declined => EventPayload::Declined(de(json)?),
            EventKind::Withdrawn => EventPayload::Withdrawn(de(json)?),
            EventKind::Completed => EventPayload::Completed(de(json)?),
            EventKind::NoteAdded => EventPayload::NoteAdded(de(json)?),
            EventKind::Resolved => EventPayload::Resolved(de(json)?),
            EventKind::Reopened => EventPayload::Reopened(de(json)?),
            EventKind::Closed => EventPayload::Closed(de(json)?),
            EventKind::AccessCodeRotated => EventPayload::AccessCodeRotated,
            EventKind::PersonalDataErased => EventPayload::PersonalDataErased(de(json)?),
            EventKind::BusinessMerged => EventPayload::BusinessMerged(de(json)?),
            EventKind::DataExported => EventPayload::DataExported(de(json)?),
        })
    }

    /// The timeline line of the event in `lang`: 「知る → 相談する」, the
    /// institution and its answer, the note's visibility… Ids never appear.
    pub fn summary(&self, lang: Lang) -> String {
        let change = |from: &str, to: &str| format!("{from} → {to}");
        match self {
            EventPayload::Opened(p) => {
                let mut parts = vec![
                    lang.pick(p.channel.label_ja(), p.channel.label_en())
                        .to_owned(),
                    lang.pick(p.stage.label_ja(), p.stage.label_en()).to_owned(),
                    lang.pick(p.priority.label_ja(), p.priority.label_en())
                        .to_owned(),
                ];
                if !p.topics.is_empty() {
                    parts.push(p.topics.join(lang.pick("、", ", ")));
                }
                parts.join(" / ")
            }
            EventPayload::StageChanged(c) => change(
                lang.pick(c.from.label_ja(), c.from.label_en()),
                lang.pick(c.to.label_ja(), c.to.label_en()),
            ),
            EventPayload::StatusChanged(c)
            | EventPayload::Reopened(c)
            | EventPayload::Closed(c) => change(
                lang.pick(c.from.label_ja(), c.from.label_en()),
                lang.pick(c.to.label_ja(), c.to.label_en()),
            ),
            EventPayload::Resolved(r) => {
                let outcomes: Vec<&str> = r
                    .outcomes
                    .iter()
                    .map(|o| lang.pick(o.label_ja(), o.label_en()))
                    .collect();
                format!(
                    "{} / {}",
                    change(
                        lang.pick(r.from.label_ja(), r.from.label_en()),
                        lang.pick(r.to.label_ja(), r.to.label_en()),
                    ),
                    outcomes.join(lang.pick("・", ", "))
                )
            }
            EventPayload::Updated(u) => {
                let mut line = u
                    .fields
                    .iter()
                    .map(|f| field_label(f, lang))
                    .collect::<Vec<_>>()
                    .join(lang.pick("、", ", "));
                if let Some(c) = u.consent_to_share {
                    line.push_str(match (lang, c) {
                        (Lang::Ja, true) => " / 情報共有に同意",
                        (Lang::Ja, false) => " / 情報共有の同意を撤回",
                        (Lang::En, true) => " / consent to share given",
                        (Lang::En, false) => " / consent to share withdrawn",
                    });
                }
                line
            }
            EventPayload::Referred(r)
            | EventPayload::Accepted(r)
            | EventPayload::Declined(r)
            | EventPayload::Withdrawn(r)
            | EventPayload::Completed(r) => {
                let mut parts = vec![
                    r.institution_name.clone(),
                    lang.pick(r.status.label_ja(), r.status.label_en())
                        .to_owned(),
                ];
                if let Some(reason) = r.reason {
                    parts.push(lang.pick(reason.label_ja(), reason.label_en()).to_owned());
                }
                if r.withdraw_reason.as_deref() == Some(CONSENT_WITHDRAWN) {
                    parts.push(
                        lang.pick("情報共有の同意の撤回による", "consent withdrawn")
                            .to_owned(),
                    );
                }
                parts.join(" / ")
            }
            EventPayload::NoteAdded(n) => lang
                .pick(n.visibility.label_ja(), n.visibility.label_en())
                .to_owned(),
            EventPayload::AccessCodeRotated
            | EventPayload::PersonalDataErased(_)
            | EventPayload::DataExported(_) => String::new(),
            EventPayload::BusinessMerged(_) => lang
                .pick(
                    "重複していた事業者の記録を統合",
                    "duplicate business records merged",
                )
                .to_owned(),
        }
    }
}

/// The label of an edited case field named in an `UPDATED` event.
fn field_label(field: &str, lang: Lang) -> String {
    let (ja, en) = match field {
        "title" => ("件名", "title"),
        "description" => ("相談内容", "description"),
        "topics" => ("トピック", "topics"),
        "priority" => ("優先度", "priority"),
        "channel" => ("受付方法", "channel"),
        "assignedTo" => ("担当者", "assignee"),
        "consentToShare" => ("情報共有の同意", "consent to share"),
        "emailUpdates" => ("事業者へのメール連絡", "e-mails to the business"),
        other => (other, other),
    };
    lang.pick(ja, en).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hash_chain::canonical_json;
    use serde_json::json;

    fn referral(status: ReferralStatus, reason: Option<DeclineReason>) -> ReferralEvent {
        ReferralEvent {
            referral_id: Uuid::nil(),
            institution_id: Uuid::nil(),
            institution_name: "弘前大学".into(),
            status,
            pickup_deadline: (status == ReferralStatus::Pending)
                .then(|| "2026-04-03T08:59:59.999999Z".to_owned()),
            reason,
            withdraw_reason: None,
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_json() {
        let all = vec![
            EventPayload::Opened(Opened {
                reference: "AOM-2026-000001".into(),
                stage: Stage::Know,
                channel: Channel::WalkIn,
                consent_to_share: true,
                priority: Priority::Normal,
                topics: vec!["IoT".into()],
            }),
            EventPayload::StageChanged(Change {
                from: Stage::Know,
                to: Stage::Try,
            }),
            EventPayload::status_change(
                EventKind::StatusChanged,
                CaseStatus::New,
                CaseStatus::InProgress,
            ),
            EventPayload::Updated(Updated {
                fields: vec!["title".into()],
                consent_to_share: None,
            }),
            EventPayload::Updated(Updated {
                fields: vec!["consentToShare".into()],
                consent_to_share: Some(true),
            }),
            EventPayload::referral(referral(ReferralStatus::Pending, None)),
            EventPayload::referral(referral(ReferralStatus::Accepted, None)),
            EventPayload::referral(referral(
                ReferralStatus::Declined,
                Some(DeclineReason::NoCapacity),
            )),
            EventPayload::referral(referral(ReferralStatus::Withdrawn, None)),
            EventPayload::referral(referral(ReferralStatus::Completed, None)),
            EventPayload::NoteAdded(NoteAdded {
                note_id: Uuid::nil(),
                visibility: NoteVisibility::Partners,
            }),
            EventPayload::Resolved(Resolved {
                from: CaseStatus::InProgress,
                to: CaseStatus::Resolved,
                outcomes: vec![Outcome::DxCertified, Outcome::ToolAdopted],
            }),
            EventPayload::status_change(
                EventKind::Reopened,
                CaseStatus::Resolved,
                CaseStatus::InProgress,
            ),
            EventPayload::status_change(
                EventKind::Closed,
                CaseStatus::Resolved,
                CaseStatus::Closed,
            ),
            EventPayload::AccessCodeRotated,
            EventPayload::PersonalDataErased(Erased {
                business_id: Uuid::nil(),
            }),
            EventPayload::BusinessMerged(Merged {
                from_business_id: Uuid::nil(),
                into_business_id: Uuid::nil(),
            }),
            EventPayload::DataExported(Exported {
                business_id: Uuid::nil(),
            }),
        ];
        let mut kinds: Vec<EventKind> = all.iter().map(EventPayload::kind).collect();
        kinds.dedup();
        assert_eq!(kinds, EventKind::ALL, "every kind, in order");
        for p in all {
            let j = p.to_json();
            assert_eq!(EventPayload::from_json(p.kind(), &j).unwrap(), p, "{j}");
        }
    }

    #[test]
    fn the_json_is_what_the_release_wrote() {
        let p = EventPayload::referral(referral(ReferralStatus::Pending, None));
        assert_eq!(
            canonical_json(&p.to_json()),
            r#"{"institutionId":"00000000-0000-0000-0000-000000000000","institutionName":"弘前大学","pickupDeadline":"2026-04-03T08:59:59.999999Z","referralId":"00000000-0000-0000-0000-000000000000","status":"PENDING"}"#
        );
        assert_eq!(
            canonical_json(&EventPayload::AccessCodeRotated.to_json()),
            "{}"
        );
        let r = EventPayload::Resolved(Resolved {
            from: CaseStatus::OnHold,
            to: CaseStatus::Resolved,
            outcomes: vec![Outcome::AdviceOnly],
        });
        assert_eq!(
            canonical_json(&r.to_json()),
            r#"{"from":"ON_HOLD","outcomes":["ADVICE_ONLY"],"to":"RESOLVED"}"#
        );
    }

    #[test]
    fn a_consent_change_keeps_its_value_in_the_record() {
        let stored = json!({"fields": ["title", "consentToShare"], "consentToShare": false});
        let p = EventPayload::from_json(EventKind::Updated, &stored).unwrap();
        assert_eq!(canonical_json(&p.to_json()), canonical_json(&stored));
        assert_eq!(
            p.summary(Lang::Ja),
            "件名、情報共有の同意 / 情報共有の同意を撤回"
        );
    }

    #[test]
    fn a_payload_of_the_wrong_shape_is_refused() {
        assert!(
            EventPayload::from_json(EventKind::NoteAdded, &json!({"visibility": "SECRET"}))
                .is_err()
        );
        assert!(EventPayload::from_json(EventKind::Referred, &json!({})).is_err());
    }

    #[test]
    fn summaries_read_in_either_language() {
        let d = EventPayload::referral(referral(
            ReferralStatus::Declined,
            Some(DeclineReason::NoCapacity),
        ));
        assert_eq!(d.summary(Lang::Ja), "弘前大学 / 辞退 / 対応余力なし");
        assert_eq!(d.summary(Lang::En), "弘前大学 / Declined / No capacity");
        let s = EventPayload::StageChanged(Change {
            from: Stage::Know,
            to: Stage::Consult,
        });
        assert_eq!(s.summary(Lang::Ja), "知る → 相談する");
        let r = EventPayload::Resolved(Resolved {
            from: CaseStatus::InProgress,
            to: CaseStatus::Resolved,
            outcomes: vec![Outcome::DxCertified, Outcome::ToolAdopted],
        });
        assert_eq!(
            r.summary(Lang::Ja),
            "対応中 → 解決済み / DX認定取得・ツール導入"
        );
        let n = EventPayload::NoteAdded(NoteAdded {
            note_id: Uuid::nil(),
            visibility: NoteVisibility::Desk,
        });
        assert_eq!(n.summary(Lang::Ja), "窓口のみ");
        assert!(!n.summary(Lang::Ja).contains("0000"), "ids never appear");
    }
}
