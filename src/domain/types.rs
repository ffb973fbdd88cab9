//! The domain enums (roles, stages, statuses, kinds…), shared by the GraphQL schema, the store and the reports.
//!
//! Each enum's `as_str` is its SCREAMING_SNAKE_CASE name: the GraphQL enum
//! value, the serde form and the value stored in the database.

/// Declares a domain enum with the common derives and helpers
/// (`ALL`, `as_str`, `parse`, `label_ja`, `label_en`, `Display`).
macro_rules! domain_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = ($code:literal, $ja:literal, $en:literal)
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            async_graphql::Enum,
            Copy,
            Clone,
            Debug,
            PartialEq,
            Eq,
            Hash,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                $variant
            ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The SCREAMING_SNAKE_CASE name (GraphQL value, serde form, database value).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code),+
                }
            }

            /// Parses the SCREAMING_SNAKE_CASE name. Surrounding whitespace and
            /// ASCII case are ignored (`in_progress` parses too).
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
            }

            /// Japanese label for UIs and reports.
            pub fn label_ja(self) -> &'static str {
                match self {
                    $(Self::$variant => $ja),+
                }
            }

            /// English label for UIs and reports.
            pub fn label_en(self) -> &'static str {
                match self {
                    $(Self::$variant => $en),+
                }
            }

            /// The GraphQL enum's name, e.g. `CaseStatus`.
            pub const NAME: &'static str = stringify!($name);

            /// (value, Japanese label, English label) for every value, in declaration order.
            pub const LABELS: &'static [(&'static str, &'static str, &'static str)] =
                &[$(($code, $ja, $en)),+];
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

domain_enum! {
    /// A user's role in a lab.
    pub enum Role {
        /// Lab secretariat (事務局): users, institutions, KPI targets, the yearly report.
        Admin = ("ADMIN", "事務局", "Secretariat"),
        /// DX concierge at the one-stop desk: logs, routes and follows cases.
        Concierge = ("CONCIERGE", "DXコンシェルジュ", "DX concierge"),
        /// Staff of a partner institution: picks up or declines its referrals.
        Partner = ("PARTNER", "連携機関", "Partner institution"),
    }
}

domain_enum! {
    /// The stage of support a business is at (知る・相談する・試す).
    pub enum Stage {
        /// 知る: seminars, awareness, information on tools and subsidies.
        Know = ("KNOW", "知る", "Know"),
        /// 相談する: consultation with the desk or an expert.
        Consult = ("CONSULT", "相談する", "Consult"),
        /// 試す: a trial, pilot, test bed, proof of concept or subsidised first project.
        Try = ("TRY", "試す", "Try"),
    }
}

domain_enum! {
    /// The status of a case. `REFERRED` is derived (a NEW or IN_PROGRESS case
    /// holding a PENDING referral) and never stored.
    pub enum CaseStatus {
        /// Logged, not yet acted on.
        New = ("NEW", "新規", "New"),
        /// The desk is working on it.
        InProgress = ("IN_PROGRESS", "対応中", "In progress"),
        /// Paused, e.g. waiting for the business.
        OnHold = ("ON_HOLD", "保留", "On hold"),
        /// Derived: a referral to an institution awaits pick-up.
        Referred = ("REFERRED", "紹介中", "Referred"),
        /// Support finished with an outcome; may be reopened.
        Resolved = ("RESOLVED", "解決済み", "Resolved"),
        /// Final: no further change.
        Closed = ("CLOSED", "終了", "Closed"),
    }
}

domain_enum! {
    /// How urgent a case is.
    #[derive(Default)]
    pub enum Priority {
        /// Low priority.
        Low = ("LOW", "低", "Low"),
        /// Normal priority (the default).
        #[default]
        Normal = ("NORMAL", "通常", "Normal"),
        /// High priority.
        High = ("HIGH", "高", "High"),
        /// Urgent: handle first.
        Urgent = ("URGENT", "緊急", "Urgent"),
    }
}

domain_enum! {
    /// How the consultation reached the desk.
    pub enum Channel {
        /// The business came to the desk in person.
        WalkIn = ("WALK_IN", "来所", "Walk-in"),
        /// By telephone.
        Phone = ("PHONE", "電話", "Phone"),
        /// By e-mail.
        Email = ("EMAIL", "メール", "E-mail"),
        /// Through the public web form.
        WebForm = ("WEB_FORM", "Webフォーム", "Web form"),
        /// At a seminar or event.
        Seminar = ("SEMINAR", "セミナー", "Seminar"),
        /// Any other channel.
        Other = ("OTHER", "その他", "Other"),
    }
}

domain_enum! {
    /// The kind of a partner institution.
    pub enum InstitutionKind {
        /// Industry-support institution (technology centre, foundation, chamber of commerce, NPO).
        IndustrySupport = ("INDUSTRY_SUPPORT", "産業支援機関", "Industry support"),
        /// University, college or technical college.
        University = ("UNIVERSITY", "大学・高専", "University"),
        /// Financial institution (bank, credit union, credit guarantee corporation).
        Financial = ("FINANCIAL", "金融機関", "Financial institution"),
        /// Local or national government.
        Government = ("GOVERNMENT", "行政", "Government"),
        /// IT vendor.
        ItVendor = ("IT_VENDOR", "ITベンダー", "IT vendor"),
        /// Any other kind.
        Other = ("OTHER", "その他", "Other"),
    }
}

domain_enum! {
    /// The status of a referral (a handoff of a case to an institution).
    pub enum ReferralStatus {
        /// Sent, awaiting pick-up by the institution.
        Pending = ("PENDING", "受付待ち", "Pending"),
        /// Picked up: the institution supports the business.
        Accepted = ("ACCEPTED", "対応中", "Accepted"),
        /// Declined by the institution, with a reason.
        Declined = ("DECLINED", "辞退", "Declined"),
        /// Withdrawn by the desk before pick-up.
        Withdrawn = ("WITHDRAWN", "取下げ", "Withdrawn"),
        /// Support finished; the case is handed back with a summary.
        Completed = ("COMPLETED", "完了", "Completed"),
    }
}

domain_enum! {
    /// Why an institution declined a referral.
    pub enum DeclineReason {
        /// The request is outside the institution's field.
        OutOfScope = ("OUT_OF_SCOPE", "対応分野外", "Out of scope"),
        /// The institution has no capacity now.
        NoCapacity = ("NO_CAPACITY", "対応余力なし", "No capacity"),
        /// The business is not eligible for the institution's support.
        NotEligible = ("NOT_ELIGIBLE", "支援対象外", "Not eligible"),
        /// The business is already being supported (duplicate request).
        Duplicate = ("DUPLICATE", "重複", "Duplicate"),
        /// Another reason (see the note).
        Other = ("OTHER", "その他", "Other"),
    }
}

domain_enum! {
    /// Who may read a note.
    pub enum NoteVisibility {
        /// Desk staff only.
        Desk = ("DESK", "窓口のみ", "Desk only"),
        /// The desk and the institutions on the case.
        Partners = ("PARTNERS", "窓口と紹介先機関", "Desk and referred institutions"),
        /// Also shown to the business on its status page.
        Business = ("BUSINESS", "事業者にも公開", "Also shown to the business"),
    }
}

domain_enum! {
    /// What support achieved, recorded when a case is resolved.
    pub enum Outcome {
        /// A digital tool was adopted.
        ToolAdopted = ("TOOL_ADOPTED", "ツール導入", "Tool adopted"),
        /// A trial, pilot or proof of concept was run.
        TrialRun = ("TRIAL_RUN", "試行・実証", "Trial run"),
        /// A subsidy application was filed.
        SubsidyApplied = ("SUBSIDY_APPLIED", "補助金申請", "Subsidy applied"),
        /// A subsidy was granted.
        SubsidyGranted = ("SUBSIDY_GRANTED", "補助金採択", "Subsidy granted"),
        /// Financing was arranged.
        FinancingArranged = ("FINANCING_ARRANGED", "資金調達", "Financing arranged"),
        /// The business obtained DX certification (DX認定).
        DxCertified = ("DX_CERTIFIED", "DX認定取得", "DX certified"),
        /// Staff completed a training.
        TrainingCompleted = ("TRAINING_COMPLETED", "研修修了", "Training completed"),
        /// Advice only.
        AdviceOnly = ("ADVICE_ONLY", "助言のみ", "Advice only"),
        /// No action taken.
        NoAction = ("NO_ACTION", "対応なし", "No action"),
    }
}

domain_enum! {
    /// The kind of a case event (one entry of the append-only support record).
    pub enum EventKind {
        /// The case was opened.
        Opened = ("OPENED", "受付", "Opened"),
        /// The stage changed.
        StageChanged = ("STAGE_CHANGED", "ステージ変更", "Stage changed"),
        /// The status changed.
        StatusChanged = ("STATUS_CHANGED", "状況変更", "Status changed"),
        /// Case details were edited.
        Updated = ("UPDATED", "内容の編集", "Edited"),
        /// The case was referred to an institution.
        Referred = ("REFERRED", "紹介", "Referred"),
        /// An institution picked up a referral.
        Accepted = ("ACCEPTED", "紹介の引受", "Referral accepted"),
        /// An institution declined a referral.
        Declined = ("DECLINED", "紹介の辞退", "Referral declined"),
        /// The desk withdrew a referral.
        Withdrawn = ("WITHDRAWN", "紹介の取下げ", "Referral withdrawn"),
        /// An institution completed its support and handed the case back.
        Completed = ("COMPLETED", "紹介先の支援完了", "Referral completed"),
        /// A note was added.
        NoteAdded = ("NOTE_ADDED", "メモ追加", "Note added"),
        /// The case was resolved.
        Resolved = ("RESOLVED", "解決", "Resolved"),
        /// The case was reopened.
        Reopened = ("REOPENED", "再開", "Reopened"),
        /// The case was closed.
        Closed = ("CLOSED", "終了", "Closed"),
        /// The business's access code was rotated.
        AccessCodeRotated = ("ACCESS_CODE_ROTATED", "アクセスコード再発行", "Access code rotated"),
        /// The business's personal data was erased.
        PersonalDataErased = ("PERSONAL_DATA_ERASED", "個人情報の消去", "Personal data erased"),
        /// The case's business was merged into another record (the case moved with it).
        BusinessMerged = ("BUSINESS_MERGED", "事業者の統合", "Business merged"),
        /// Everything held about the business was exported for a disclosure request (APPI art. 33).
        DataExported = ("DATA_EXPORTED", "保有個人データの開示", "Data disclosed"),
    }
}

impl CaseStatus {
    /// The statuses that may be stored (all but the derived `REFERRED`).
    pub const STORED: &'static [Self] = &[
        Self::New,
        Self::InProgress,
        Self::OnHold,
        Self::Resolved,
        Self::Closed,
    ];

    /// Whether this status may be stored (everything but `REFERRED`).
    pub fn is_stored(self) -> bool {
        self != Self::Referred
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::InputType;

    /// Checks, for every value: as_str == serde == GraphQL name, parse round-trips, labels non-empty.
    fn check_enum<T>(all: &[T], as_str: fn(T) -> &'static str, parse: fn(&str) -> Option<T>)
    where
        T: Copy
            + PartialEq
            + std::fmt::Debug
            + serde::Serialize
            + serde::de::DeserializeOwned
            + InputType,
    {
        let mut seen = std::collections::HashSet::new();
        for &v in all {
            let name = as_str(v);
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(name.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
            assert_eq!(parse(name), Some(v));
            assert_eq!(parse(&name.to_lowercase()), Some(v));
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(name));
            let back: T = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(back, v);
            match v.to_value() {
                async_graphql::Value::Enum(n) => assert_eq!(n.as_str(), name),
                other => panic!("unexpected GraphQL value {other:?}"),
            }
        }
        assert_eq!(parse("NO_SUCH_VALUE"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn names_agree_everywhere() {
        check_enum(Role::ALL, Role::as_str, Role::parse);
        check_enum(Stage::ALL, Stage::as_str, Stage::parse);
        check_enum(CaseStatus::ALL, CaseStatus::as_str, CaseStatus::parse);
        check_enum(Priority::ALL, Priority::as_str, Priority::parse);
        check_enum(Channel::ALL, Channel::as_str, Channel::parse);
        check_enum(
            InstitutionKind::ALL,
            InstitutionKind::as_str,
            InstitutionKind::parse,
        );
        check_enum(
            ReferralStatus::ALL,
            ReferralStatus::as_str,
            ReferralStatus::parse,
        );
        check_enum(
            DeclineReason::ALL,
            DeclineReason::as_str,
            DeclineReason::parse,
        );
        check_enum(
            NoteVisibility::ALL,
            NoteVisibility::as_str,
            NoteVisibility::parse,
        );
        check_enum(Outcome::ALL, Outcome::as_str, Outcome::parse);
        check_enum(EventKind::ALL, EventKind::as_str, EventKind::parse);
    }

    #[test]
    fn graphql_names_are_screaming_snake() {
        assert_eq!(
            CaseStatus::InProgress.to_value(),
            async_graphql::Value::Enum(async_graphql::Name::new("IN_PROGRESS"))
        );
        let parsed = <EventKind as InputType>::parse(Some(async_graphql::Value::Enum(
            async_graphql::Name::new("ACCESS_CODE_ROTATED"),
        )))
        .unwrap();
        assert_eq!(parsed, EventKind::AccessCodeRotated);
    }

    #[test]
    fn doc_comments_become_graphql_descriptions() {
        let mut reg = async_graphql::registry::Registry::default();
        <CaseStatus as InputType>::create_type_info(&mut reg);
        match reg.types.get("CaseStatus") {
            Some(async_graphql::registry::MetaType::Enum {
                description,
                enum_values,
                ..
            }) => {
                assert!(description.as_deref().unwrap_or("").contains("derived"));
                let names: Vec<&str> = enum_values.keys().map(String::as_str).collect();
                assert_eq!(
                    names,
                    [
                        "NEW",
                        "IN_PROGRESS",
                        "ON_HOLD",
                        "REFERRED",
                        "RESOLVED",
                        "CLOSED"
                    ]
                );
                assert!(enum_values["ON_HOLD"].description.is_some());
            }
            _ => panic!("CaseStatus not registered as an enum"),
        }
    }

    #[test]
    fn counts_and_labels() {
        assert_eq!(Role::ALL.len(), 3);
        assert_eq!(CaseStatus::ALL.len(), 6);
        assert_eq!(Outcome::ALL.len(), 9);
        assert_eq!(EventKind::ALL.len(), 17);
        assert_eq!(Stage::Know.label_ja(), "知る");
        assert_eq!(Stage::Consult.label_ja(), "相談する");
        assert_eq!(Stage::Try.label_ja(), "試す");
        assert_eq!(CaseStatus::Resolved.label_ja(), "解決済み");
        assert_eq!(CaseStatus::InProgress.to_string(), "IN_PROGRESS");
        assert_eq!(Priority::default(), Priority::Normal);
    }

    #[test]
    fn referred_is_not_stored() {
        assert!(!CaseStatus::Referred.is_stored());
        assert_eq!(CaseStatus::STORED.len(), 5);
        assert!(CaseStatus::STORED.iter().all(|s| s.is_stored()));
    }
}
