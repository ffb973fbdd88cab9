//! Erasing a business's personal data (APPI) over the API, on both backends:
//! only the secretariat, only once every case is resolved or closed; the
//! record stays verifiable and the status page goes dark.

use crate::backend_tests;
use crate::common;

use common::cases::*;
use common::{spawn_app, Backend};
use serde_json::json;

const ERASE: &str =
    "mutation($b: ID!) { erasePersonalData(businessId: $b) { id name contactName email phone } }";

backend_tests!(erasure_after_closing_keeps_the_record_and_hides_the_case);

async fn erasure_after_closing_keeps_the_record_and_hides_the_case(b: Backend) {
    let app = spawn_app(b).await;
    let desk = app.login(CONCIERGE).await;
    let admin = app.login(ADMIN).await;
    let opened = open_case(
        &app,
        &desk,
        open_input(
            "在庫管理の相談",
            "担当の津軽さんから電話で相談",
            new_business("津軽精密"),
        ),
    )
    .await;
    let business_id = opened.case["business"]["id"].clone();
    add_note(
        &app,
        &desk,
        &opened.id,
        "津軽さんの携帯 090-1111-2222",
        "DESK",
    )
    .await
    .ok();

    // Not while the case is open; not by a concierge; not from another lab.
    let r = app
        .gql(Some(&admin), ERASE, json!({ "b": business_id }))
        .await;
    assert_code(&r, "CONFLICT", "open case");
    assert!(r.message().unwrap().contains(&opened.reference));
    let r = app
        .gql(Some(&desk), ERASE, json!({ "b": business_id }))
        .await;
    assert_code(&r, "FORBIDDEN", "concierge");
    let koda = app.login(KODA_ADMIN).await;
    let r = app
        .gql(Some(&koda), ERASE, json!({ "b": business_id }))
        .await;
    assert_code(&r, "NOT_FOUND", "other lab");

    let v = version(&app, &desk, &opened.id).await;
    set_status(&app, &desk, &opened.id, v, "IN_PROGRESS")
        .await
        .ok();
    let v = version(&app, &desk, &opened.id).await;
    resolve(&app, &desk, &opened.id, v, &["ADVICE_ONLY"], "助言で完了")
        .await
        .ok();
    close(&app, &desk, &opened.id).await.ok();

    let r = app
        .gql(Some(&admin), ERASE, json!({ "b": business_id }))
        .await;
    let erased = &r.ok()["erasePersonalData"];
    assert_eq!(erased["contactName"], json!(null), "{b:?}");
    assert_eq!(erased["email"], json!(null));
    assert_eq!(erased["phone"], json!(null));

    // Nothing personal is left on the case, and the record gained its event.
    let case = case_ok(&app, &desk, &opened.id).await;
    let text = case.to_string();
    for needle in [
        "津軽精密",
        "津軽 太郎",
        "taro.tsugaru",
        "0172-11-2233",
        "090-1111-2222",
        "津軽さん",
    ] {
        assert!(!text.contains(needle), "{b:?}: {needle} still in {text}");
    }
    assert_eq!(
        kinds(&case).last().map(String::as_str),
        Some("PERSONAL_DATA_ERASED")
    );
    let audit = dxdesk::service::audit::verify_all(app.state.store.as_ref())
        .await
        .unwrap();
    assert!(
        audit.broken.is_empty(),
        "{b:?}: chains intact after erasure"
    );

    // The status page answers null, as for a wrong code.
    let r = app
        .gql(
            None,
            "query($r: String!, $c: String!) { caseStatus(reference: $r, accessCode: $c) { reference } }",
            json!({ "r": opened.reference, "c": opened.access_code }),
        )
        .await;
    assert_eq!(r.body, json!({ "data": { "caseStatus": null } }));
}
