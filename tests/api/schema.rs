//! `schema/schema.graphql` is generated from the code: this test fails when the
//! checked-in file differs. Regenerate with `cargo run -q -- schema > schema/schema.graphql`
//! (or run this test with `UPDATE_SCHEMA=1`).

#[test]
fn checked_in_schema_matches_the_code() {
    let sdl = dxdesk::graphql::sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/schema.graphql");
    if std::env::var("UPDATE_SCHEMA").as_deref() == Ok("1") {
        std::fs::write(path, &sdl).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == sdl,
        "schema/schema.graphql is out of date: run `cargo run -q -- schema > schema/schema.graphql`"
    );
}

#[test]
fn contract_operations_are_in_the_schema() {
    let sdl = dxdesk::graphql::sdl();
    for op in [
        "me: User!",
        "institutions: [Institution!]!",
        "login(email: String!, password: String!): AuthPayload!",
        "refreshSession(refreshToken: String!): AuthPayload!",
        "logout(refreshToken: String!): Boolean!",
    ] {
        assert!(sdl.contains(op), "missing {op}");
    }
}

/// The web front end's labels are generated from the domain's: this test fails
/// when `frontend/src/lib/labels.ts` differs. Regenerate with
/// `cargo run -q -- labels > frontend/src/lib/labels.ts` (or `UPDATE_SCHEMA=1`).
#[test]
fn checked_in_front_end_labels_match_the_code() {
    let ts = dxdesk::domain::labels::typescript();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/frontend/src/lib/labels.ts");
    if std::env::var("UPDATE_SCHEMA").as_deref() == Ok("1") {
        std::fs::write(path, &ts).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == ts,
        "frontend/src/lib/labels.ts is out of date: run `cargo run -q -- labels > frontend/src/lib/labels.ts`"
    );
}

/// The labels the web page shows (the checked-in `labels.ts`), the ones the CSV
/// export writes and the ones error messages name are one and the same.
#[test]
fn web_page_csv_and_messages_share_every_label() {
    use dxdesk::domain::case_state::check_status_transition;
    use dxdesk::domain::referral_state::check_referral_transition;
    use dxdesk::domain::types::{CaseStatus, ReferralStatus};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/frontend/src/lib/labels.ts");
    let ts = std::fs::read_to_string(path).unwrap();
    // The web page's table, read back from the TypeScript: "  Name: {" opens a table,
    // "    VALUE: [\"ja\", \"en\"]," is a row.
    let mut web = std::collections::HashMap::new();
    let mut current = String::new();
    for line in ts.lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(": {")) {
            current = name.to_owned();
        } else if let Some(row) = line.strip_prefix("    ") {
            let (value, rest) = row.split_once(": ").unwrap();
            let pair: Vec<String> =
                serde_json::from_str(rest.trim_end_matches(',')).expect("a [ja, en] pair");
            web.insert((current.clone(), value.to_owned()), pair[0].clone());
        }
    }
    for t in dxdesk::domain::labels::tables() {
        for (value, ja, _) in &t.rows {
            assert_eq!(
                web.get(&(t.name.to_owned(), value.clone()))
                    .map(String::as_str),
                Some(*ja),
                "{}.{value}: the web page's label differs from the domain's",
                t.name
            );
        }
    }
    // The CSV export writes `label_ja()` (tests/reports.rs reads it back); error
    // messages name the same labels.
    let e = check_status_transition(CaseStatus::Closed, CaseStatus::InProgress).unwrap_err();
    let closed = &web[&("CaseStatus".to_owned(), "CLOSED".to_owned())];
    assert_eq!(closed, CaseStatus::Closed.label_ja());
    assert!(
        e.message_ja().contains(closed.as_str()),
        "{}",
        e.message_ja()
    );
    let e =
        check_referral_transition(ReferralStatus::Pending, ReferralStatus::Completed).unwrap_err();
    let pending = &web[&("ReferralStatus".to_owned(), "PENDING".to_owned())];
    assert!(
        e.message_ja().contains(pending.as_str()),
        "{}",
        e.message_ja()
    );
}
