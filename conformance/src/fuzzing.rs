//! The bodies of the fuzz targets over the files this CLI reads from users (`fuzz/fuzz_targets/*.rs` call them;
//! `tests/it/fuzz_corpus.rs` replays the committed corpora through them on stable). Any bytes: no panic, and a
//! file that is refused is refused with a reason. Not part of the API: hidden from the docs.

/// A scenario file (`conformance scenario FILE.toml`): TOML, then the step checks.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(reason) = crate::scenario::schema::parse(text) {
        assert!(!reason.is_empty(), "a refused scenario says why");
    }
}

/// A case file (`conformance replay CASE.json`, schema `eticket-case/1`).
pub fn case_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(reason) = crate::replay::parse_case(text) {
        assert!(!reason.is_empty(), "a refused case file says why");
    }
}
