//! Snapshots of the TOP envelopes (PROTOCOL §4.6, §4.7) exactly as they go on the wire, with a fixed request_id.

use protocol::envelope::{ResponseFormat, SuccessBody, Value};
use protocol::{SubCode, TopError};

const REQUEST_ID: &str = "3bsxgbx6seom";

fn send_answer() -> SuccessBody {
    SuccessBody::new("taobao.vmarket.eticket.send", vec![("ret_code", Value::Num(1))])
}

fn codes_get_answer() -> SuccessBody {
    let code = |code: &str, num: i64, status: i64| {
        vec![
            ("order_id", Value::Num(1525658026040792)),
            ("code", Value::Str(code.into())),
            ("num", Value::Num(num)),
            ("status", Value::Num(status)),
        ]
    };
    SuccessBody::new(
        "taobao.vmarket.eticket.codes.get",
        vec![
            (
                "eticket_codes",
                Value::List {
                    item: "eticket_code",
                    items: vec![code("123456789012", 1, 1), code("210987654321", 0, 3)],
                },
            ),
            ("total_results", Value::Num(2)),
        ],
    )
}

#[test]
fn scalar_success_envelopes_in_every_format() {
    let body = send_answer();
    insta::assert_snapshot!("send_json", body.render(ResponseFormat::Json, false, REQUEST_ID));
    insta::assert_snapshot!("send_xml", body.render(ResponseFormat::Xml, false, REQUEST_ID));
    insta::assert_snapshot!("send_json_simplify", body.render(ResponseFormat::Json, true, REQUEST_ID));
}

#[test]
fn list_success_envelopes_in_every_format() {
    let body = codes_get_answer();
    insta::assert_snapshot!("codes_get_json", body.render(ResponseFormat::Json, false, REQUEST_ID));
    insta::assert_snapshot!("codes_get_xml", body.render(ResponseFormat::Xml, false, REQUEST_ID));
    insta::assert_snapshot!("codes_get_json_simplify", body.render(ResponseFormat::Json, true, REQUEST_ID));
}

#[test]
fn error_envelopes_in_json_and_xml() {
    let errors = [
        ("invalid_signature", TopError::INVALID_SIGNATURE),
        ("missing_verify_codes", TopError::missing_argument("verify_codes")),
        ("invalid_token", SubCode::InvalidToken.error()),
        ("app_call_limited", TopError::app_call_limited(3600)),
    ];
    for (name, error) in errors {
        insta::assert_snapshot!(format!("error_{name}_json"), error.render(ResponseFormat::Json, REQUEST_ID));
        insta::assert_snapshot!(format!("error_{name}_xml"), error.render(ResponseFormat::Xml, REQUEST_ID));
    }
}
