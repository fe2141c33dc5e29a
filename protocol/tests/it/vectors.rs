//! Known-answer sign vectors: every case in `fixtures/vectors/` and `../shared/spec/vectors/` reproduces its
//! `expected_sign`, the two copies never drift apart, and the near-miss algorithms miss the real captures.
//!
//! Mirrors `../shared/spec/vectors/verify_vectors.py` (its `fixed_checks` and `wrong_algorithms_must_miss`), so
//! the Rust core and the Python reference check the same facts.

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use protocol::gbk::encode_gbk;
use protocol::top_sign::{EmptyValues, sign_canonical, top_canonical};
use protocol::{Secret, SignMethod, notify_sign, top_sign, verify_notify, verify_top};

/// One case of a vector file (the shape `verify_vectors.py` checks).
#[derive(Debug, serde::Deserialize)]
struct Case {
    name: String,
    kind: String,
    key: Option<String>,
    secret: Option<String>,
    sign_method: Option<String>,
    params: serde_json::Map<String, serde_json::Value>,
    expected_sign: String,
    source: String,
}

impl Case {
    fn pairs(&self) -> Vec<(&str, &str)> {
        self.params
            .iter()
            .map(|(name, value)| {
                let value = value.as_str().unwrap_or_else(|| panic!("{}: param {name} is not a string", self.name));
                (name.as_str(), value)
            })
            .collect()
    }

    fn key(&self) -> Secret {
        Secret::new(self.key.clone().unwrap_or_else(|| panic!("{}: notify case without key", self.name)))
    }

    fn secret(&self) -> Secret {
        Secret::new(self.secret.clone().unwrap_or_else(|| panic!("{}: top case without secret", self.name)))
    }

    fn method(&self) -> SignMethod {
        let method =
            self.sign_method.as_deref().unwrap_or_else(|| panic!("{}: top case without sign_method", self.name));
        SignMethod::parse(method).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    fn is_real_capture(&self) -> bool {
        self.kind == "notify" && self.source.starts_with("real capture")
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/vectors")
}

/// `../shared/spec/vectors` relative to the workspace root. CI checks `shared/` out beside the clone; when it is
/// missing the vectors cannot be compared, which is a failure, never a skip.
fn shared_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec/vectors");
    assert!(
        dir.is_dir(),
        "the shared spec vectors are missing: expected a directory at {} (check out `shared/` beside the workspace \
         clone, as CI does)",
        dir.display()
    );
    dir
}

/// The `*.json` files of a vector directory, sorted by name.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json vector files in {}", dir.display());
    files
}

fn load(dir: &Path) -> Vec<Case> {
    json_files(dir)
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            serde_json::from_str::<Vec<Case>>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Checks every case of a directory and reports all failures at once.
fn check_all(dir: &Path) {
    let cases = load(dir);
    let mut failures = Vec::new();
    for case in &cases {
        let pairs = case.pairs();
        let (got, verified) = match case.kind.as_str() {
            "notify" => {
                let key = case.key();
                let mut with_sign = pairs.clone();
                with_sign.retain(|(name, _)| *name != "sign");
                with_sign.push(("sign", case.expected_sign.as_str()));
                (
                    notify_sign(&key, pairs.iter().copied()).into(),
                    verify_notify(&key, with_sign.iter().copied()).is_ok(),
                )
            }
            "top" => {
                let secret = case.secret();
                let method = case.method();
                let mut with_sign = pairs.clone();
                with_sign.retain(|(name, _)| *name != "sign");
                with_sign.push(("sign", case.expected_sign.as_str()));
                let verified = verify_top(&secret, with_sign.iter().copied()) == Ok(method);
                (top_sign(&secret, method, pairs.iter().copied()), verified)
            }
            other => panic!("{}: unknown kind {other:?}", case.name),
        };
        if got != case.expected_sign {
            failures.push(format!("{}: expected {}, computed {got}", case.name, case.expected_sign));
        }
        if !verified {
            failures.push(format!("{}: verify rejects its own expected sign", case.name));
        }
    }
    assert!(failures.is_empty(), "vectors in {} failed:\n{}", dir.display(), failures.join("\n"));
    assert!(cases.iter().any(|c| c.kind == "notify") && cases.iter().any(|c| c.kind == "top"));
}

#[test]
fn every_fixture_vector_reproduces_its_expected_sign() {
    check_all(&fixtures_dir());
}

#[test]
fn every_shared_spec_vector_reproduces_its_expected_sign() {
    check_all(&shared_dir());
}

#[test]
fn fixture_vectors_are_a_byte_for_byte_copy_of_the_shared_ones() {
    let name = |path: &PathBuf| path.file_name().expect("a file name").to_owned();
    let shared = json_files(&shared_dir());
    let fixtures = json_files(&fixtures_dir());
    assert_eq!(
        fixtures.iter().map(name).collect::<Vec<_>>(),
        shared.iter().map(name).collect::<Vec<_>>(),
        "fixtures/vectors and ../shared/spec/vectors hold different files"
    );
    for (ours, theirs) in fixtures.iter().zip(&shared) {
        assert!(
            std::fs::read(ours).expect("readable") == std::fs::read(theirs).expect("readable"),
            "{} drifted from {}: copy the shared file over",
            ours.display(),
            theirs.display()
        );
    }
}

/// The signing string without the key: `k1v1k2v2…`, empty values and `sign` dropped.
fn concat(pairs: &[(&str, &str)]) -> String {
    protocol::notify_canonical(pairs.iter().copied())
}

/// The algorithms a merchant plausibly writes instead of §3.3; each must miss a real capture.
fn near_misses(key: &str, pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let s = concat(pairs);
    let md5_hex = |bytes: &[u8]| hex::encode_upper(Md5::digest(bytes));
    let mut hmac = <Hmac<Md5> as KeyInit>::new_from_slice(key.as_bytes()).expect("any key length");
    hmac.update(&encode_gbk(&s));
    vec![
        ("UTF-8 instead of GBK", md5_hex(format!("{key}{s}").as_bytes())),
        ("key at both ends", md5_hex(&encode_gbk(&format!("{key}{s}{key}")))),
        ("key as suffix", md5_hex(&encode_gbk(&format!("{s}{key}")))),
        ("HMAC-MD5", hex::encode_upper(hmac.finalize().into_bytes())),
    ]
}

#[test]
fn near_miss_algorithms_do_not_reproduce_the_real_captures() {
    let cases = load(&shared_dir());
    let captures: Vec<&Case> = cases.iter().filter(|c| c.is_real_capture()).collect();
    assert!(captures.len() >= 2, "expected the real captures A and B among the vectors");
    for case in captures {
        let key = case.key.as_deref().expect("notify key");
        for (mistake, sign) in near_misses(key, &case.pairs()) {
            assert_ne!(sign, case.expected_sign, "{}: {mistake} reproduces the captured sign", case.name);
        }
    }
}

const VECTOR_B_KEY: &str = "219f9cb7eceb40fcd4aa016a61993423";

/// The exact signing string quoted by the vector B source, key included.
fn vector_b_signing_string() -> String {
    format!(
        "{VECTOR_B_KEY}consume_type2item_title银子岩门票methodsendmobile18077113872num1num_iid522071639483\
         order_id1525658026040792seller_nickhaaron_johnsend_type2sku_properties门票种类:成人票;门票类型:电子票\
         sms_template验证码$code.您已成功订购haaron_john提供的银子岩门票,有效期2016/04/12至2016/04/12,\
         消费时请出示本短信以验证.如有疑问,请联系卖家.sub_method1sub_outer_iid2taobao_sid92333234\
         timestamp2016-04-12 04:04:37tokend3077e5d86c75a2142f87161a4b4c3eatype0\
         valid_ends2016-04-12 23:59:59valid_start2016-04-12 00:00:00weeks[1,2,3,4,5,6,7]"
    )
}

#[test]
fn vector_b_captured_signing_string_signs_over_gbk_and_misses_over_utf8() {
    let string = vector_b_signing_string();
    assert_eq!(hex::encode_upper(Md5::digest(encode_gbk(&string))), "6C1346D63291FC26939D8CC5757BE65D");
    assert_eq!(hex::encode_upper(Md5::digest(string.as_bytes())), "61DE8C96F001EAE94FA326785527CE3D");
}

#[test]
fn vector_b_canonical_string_is_the_captured_one() {
    let cases = load(&shared_dir());
    let b = cases.iter().find(|c| c.name == "B-njiasu-send-2016").expect("vector B");
    let canonical = protocol::notify_canonical(b.pairs());
    assert_eq!(format!("{VECTOR_B_KEY}{canonical}"), vector_b_signing_string());
}

#[test]
fn official_top_signing_string_wraps_the_secret_around_utf8() {
    let string = "helloworldapp_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get\
                  num_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0helloworld";
    assert_eq!(hex::encode_upper(Md5::digest(string.as_bytes())), "66987CB115214E59E6EC978214934FB8");
}

const OFFICIAL_WITH_EMPTY_PARTNER: [(&str, &str); 10] = [
    ("app_key", "12345678"),
    ("fields", "num_iid,title,nick,price,num"),
    ("format", "json"),
    ("method", "taobao.item.seller.get"),
    ("num_iid", "11223344"),
    ("session", "test"),
    ("sign_method", "md5"),
    ("timestamp", "2016-01-01 12:00:00"),
    ("v", "2.0"),
    ("partner_id", ""),
];

#[test]
fn top_sign_with_the_empty_partner_id_included_is_the_accepted_alternative() {
    let secret = Secret::new("helloworld");
    let included =
        sign_canonical(&secret, SignMethod::Md5, &top_canonical(OFFICIAL_WITH_EMPTY_PARTNER, EmptyValues::Include));
    assert_eq!(included, "C37B5070487A1E27A1EB2B7347D72520");
    assert_eq!(top_sign(&secret, SignMethod::Md5, OFFICIAL_WITH_EMPTY_PARTNER), "66987CB115214E59E6EC978214934FB8");
    for sign in ["C37B5070487A1E27A1EB2B7347D72520", "66987CB115214E59E6EC978214934FB8"] {
        let mut params = OFFICIAL_WITH_EMPTY_PARTNER.to_vec();
        params.push(("sign", sign));
        assert_eq!(verify_top(&secret, params.iter().copied()), Ok(SignMethod::Md5), "{sign}");
    }
}

#[test]
fn faq_2_25_example_params_sign_with_the_key_in_front() {
    let cases = load(&shared_dir());
    let faq = cases.iter().find(|c| c.name == "faq-2.25-example-params").expect("the FAQ 2.25 vector");
    assert_eq!(notify_sign(&faq.key(), faq.pairs()), "E05D230622CB253C16F157CCF2AC2C03");
    // The FAQ's own wording: key first, then name/value pairs sorted by name, nothing after.
    let by_hand = format!("{}{}", faq.key.as_deref().expect("key"), concat(&faq.pairs()));
    assert_eq!(hex::encode_upper(Md5::digest(encode_gbk(&by_hand))), faq.expected_sign);
}

#[test]
fn gbk_writes_one_question_mark_per_astral_code_point() {
    assert_eq!(encode_gbk("a\u{1F600}b"), b"a?b");
}
