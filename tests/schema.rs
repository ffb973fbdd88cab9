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
