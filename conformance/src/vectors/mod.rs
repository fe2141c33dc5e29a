//! `conformance vectors`: JSON Lines of random, reproducible sign vectors for a merchant's own tests in any language
//! (INTERFACES §2; issue 14). Every sign is computed by `protocol`; the near misses by the signing tool's
//! constructions (`sign::hash`).
//!
//! Reproducible: vector `i` of seed `s` depends only on `(s, i)` through one ChaCha8 stream (`draw.rs`), params keep
//! their generated order and the JSON fields a fixed one (`line.rs`): the same command prints the same bytes on every
//! machine, and `--count 100` is the first 100 lines of `--count 10000`.

mod draw;
mod line;
mod near_miss;
mod notify;
mod text;
mod top;

use std::io::{self, BufWriter, Write};

use protocol::Secret;
use protocol::top_sign::{EmptyValues, sign_canonical, top_canonical};

use draw::Draw;
pub use line::SCHEMA;
use line::{InOrder, NearMissLine, NotifyLine, TopLine};

use crate::exit;

/// The seed when `--seed` is not given.
pub const DEFAULT_SEED: u64 = 1;

/// One vector in this many carries its near misses.
const NEAR_MISS_ONE_IN: u64 = 4;

/// `conformance vectors` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct VectorsArgs {
    /// How many vectors (lines) to print.
    #[arg(long, value_name = "N")]
    pub count: u64,
    /// The seed: the same seed gives the same lines on every machine.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Which signs: notification (notify key, GBK), TOP call (app secret), or both alternating, notify first.
    #[arg(long, value_enum, default_value_t = Kind::Both)]
    pub kind: Kind,
}

/// Which vectors to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Notify,
    Top,
    Both,
}

/// `conformance vectors`: the lines on `out`; exit 0, or 1 when `out` fails (a closed pipe ends the run quietly).
pub fn vectors_command(args: &VectorsArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut out = BufWriter::new(out);
    let written = (0..args.count)
        .try_for_each(|index| writeln!(out, "{}", vector_line(args.seed, index, args.kind)))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => exit::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(e) => {
            let _ = writeln!(err, "conformance vectors: cannot write the vectors: {e}");
            exit::FAILED
        }
    }
}

/// Vector `index` of seed `seed`, as one line of JSON without the newline.
pub fn vector_line(seed: u64, index: u64, kind: Kind) -> String {
    let notify = match kind {
        Kind::Notify => true,
        Kind::Top => false,
        Kind::Both => index.is_multiple_of(2),
    };
    let mut draw = Draw::for_vector(seed, index);
    let json = if notify { notify_line(seed, index, &mut draw) } else { top_line(seed, index, &mut draw) };
    json.expect("vectors are plain strings and numbers, which always serialize")
}

fn notify_line(seed: u64, index: u64, draw: &mut Draw) -> serde_json::Result<String> {
    let (key, app_secret) = (draw.hex(32), draw.hex(32));
    let mut params = notify::notification(draw);
    let with_near_misses = draw.one_in(NEAR_MISS_ONE_IN);
    let pairs = borrowed(&params);
    let notify_key = Secret::new(key.clone());
    let expected = protocol::notify_sign(&notify_key, pairs.iter().copied()).to_string();
    let canonical_gbk_hex = hex::encode(protocol::notify_sign::notify_sign_bytes(&notify_key, pairs.iter().copied()));
    let near_misses = if with_near_misses {
        near_miss::notify_near_misses(&notify_key, &Secret::new(app_secret.clone()), &pairs, &expected)
    } else {
        Vec::new()
    };
    // What the merchant receives carries its sign; the sign is never part of what is signed.
    params.push(("sign".to_owned(), expected.clone()));
    let line = NotifyLine {
        schema: SCHEMA,
        seed,
        index,
        kind: "notify",
        key: &key,
        params: InOrder(&params),
        canonical_gbk_hex,
        expected_sign: &expected,
        near_misses: near_miss_lines(near_misses, &app_secret),
    };
    serde_json::to_string(&line)
}

fn top_line(seed: u64, index: u64, draw: &mut Draw) -> serde_json::Result<String> {
    let (secret, notify_key) = (draw.hex(32), draw.hex(32));
    let (method, mut params) = top::call(draw);
    let with_near_misses = draw.one_in(NEAR_MISS_ONE_IN);
    let pairs = borrowed(&params);
    let app_secret = Secret::new(secret.clone());
    let expected = protocol::top_sign(&app_secret, method, pairs.iter().copied());
    let also_accepted: Vec<String> = if pairs.iter().any(|(_, value)| value.is_empty()) {
        vec![sign_canonical(&app_secret, method, &top_canonical(pairs.iter().copied(), EmptyValues::Include))]
    } else {
        Vec::new()
    };
    let near_misses = if with_near_misses {
        let mut accepted: Vec<&str> = vec![&expected];
        accepted.extend(also_accepted.iter().map(String::as_str));
        near_miss::top_near_misses(&app_secret, &Secret::new(notify_key.clone()), method, &pairs, &accepted)
    } else {
        Vec::new()
    };
    params.push(("sign".to_owned(), expected.clone()));
    let line = TopLine {
        schema: SCHEMA,
        seed,
        index,
        kind: "top",
        secret: &secret,
        sign_method: method.as_str(),
        params: InOrder(&params),
        expected_sign: &expected,
        also_accepted,
        near_misses: near_miss_lines(near_misses, &notify_key),
    };
    serde_json::to_string(&line)
}

fn borrowed(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
}

fn near_miss_lines(near_misses: Vec<near_miss::Computed>, other_secret: &str) -> Vec<NearMissLine<'_>> {
    near_misses
        .into_iter()
        .map(|computed| NearMissLine {
            mistake: computed.near_miss.label(),
            other_secret: computed.near_miss.uses_other_secret().then_some(other_secret),
            sign: computed.sign,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(seed: u64, count: u64, kind: Kind) -> String {
        let mut out = Vec::new();
        let code = vectors_command(&VectorsArgs { count, seed, kind }, &mut out, &mut io::sink());
        assert_eq!(code, exit::SUCCESS);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_same_seed_prints_the_same_bytes_and_a_shorter_run_is_a_prefix() {
        let long = lines(7, 60, Kind::Both);
        assert_eq!(long, lines(7, 60, Kind::Both));
        assert!(long.starts_with(&lines(7, 25, Kind::Both)));
        assert_ne!(long, lines(8, 60, Kind::Both));
        assert_eq!(long.lines().count(), 60);
    }

    #[test]
    fn each_line_carries_its_schema_seed_index_and_kind() {
        for (i, line) in lines(3, 6, Kind::Both).lines().enumerate() {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
            assert_eq!(value["schema"], SCHEMA);
            assert_eq!(value["seed"], 3);
            assert_eq!(value["index"], i as u64);
            assert_eq!(value["kind"], if i % 2 == 0 { "notify" } else { "top" });
        }
        assert!(lines(3, 4, Kind::Top).lines().all(|l| l.contains(r#""kind":"top""#)));
    }

    #[test]
    fn every_vector_verifies_with_the_protocol_crate_and_no_near_miss_does() {
        for line in lines(1, 400, Kind::Both).lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let params: Vec<(String, String)> = value["params"]
                .as_object()
                .expect("params")
                .iter()
                .map(|(n, v)| (n.clone(), v.as_str().expect("string").to_owned()))
                .collect();
            let pairs = borrowed(&params);
            let secret = value["key"].as_str().or(value["secret"].as_str()).expect("a key or secret");
            let secret = Secret::new(secret);
            let verified = if value["kind"] == "notify" {
                protocol::verify_notify(&secret, pairs.iter().copied()).is_ok()
            } else {
                protocol::verify_top(&secret, pairs.iter().copied()).is_ok()
            };
            assert!(verified, "{line}");
            for near_miss in value["near_misses"].as_array().expect("near_misses") {
                assert_ne!(near_miss["sign"], value["expected_sign"], "{line}");
            }
        }
    }
}
