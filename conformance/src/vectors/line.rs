//! One vector as one line of JSON (`eticket-sign-vector/1`): the fields in a fixed order, the params in the order
//! they are sent, so the same seed gives the same bytes everywhere.

use serde::Serialize;
use serde::ser::SerializeMap;

/// The `schema` field of every line. A change to the fields, the labels' meaning or the generated values of a given
/// seed is a new version; new near-miss labels are not.
pub const SCHEMA: &str = "eticket-sign-vector/1";

/// A notification vector (`"kind": "notify"`).
#[derive(Debug, Serialize)]
pub struct NotifyLine<'a> {
    pub schema: &'static str,
    pub seed: u64,
    pub index: u64,
    pub kind: &'static str,
    /// The notify key (a generated test key).
    pub key: &'a str,
    pub params: InOrder<'a>,
    /// Lower-case hex of the bytes MD5 hashes: GBK of key + name1value1name2value2… (PROTOCOL §3.3 step 4–5).
    pub canonical_gbk_hex: String,
    pub expected_sign: &'a str,
    pub near_misses: Vec<NearMissLine<'a>>,
}

/// A TOP call vector (`"kind": "top"`).
#[derive(Debug, Serialize)]
pub struct TopLine<'a> {
    pub schema: &'static str,
    pub seed: u64,
    pub index: u64,
    pub kind: &'static str,
    /// The app secret (a generated test secret).
    pub secret: &'a str,
    /// The scheme: the `sign_method` param, or md5 when the params have none.
    pub sign_method: &'static str,
    pub params: InOrder<'a>,
    /// The sign with empty values skipped (Java/.NET SDKs, the reference merchant).
    pub expected_sign: &'a str,
    /// Other signs the gateway accepts: with empty values signed as `name + ""` (Python/Node SDKs, §4.4 G2), when
    /// the call has an empty value.
    pub also_accepted: Vec<String>,
    pub near_misses: Vec<NearMissLine<'a>>,
}

/// A sign a common mistake produces, never the expected one.
#[derive(Debug, Serialize)]
pub struct NearMissLine<'a> {
    pub mistake: &'static str,
    pub sign: String,
    /// The credential the mistake signs with instead of the right one (only for the two credential mix-ups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_secret: Option<&'a str>,
}

/// Params as a JSON object in their sending order (names are unique).
#[derive(Debug)]
pub struct InOrder<'a>(pub &'a [(String, String)]);

impl Serialize for InOrder<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
