//! Reading `--params FILE`: a JSON object of string to string, from a file or stdin (`-`).

use std::io::Read;

/// Why a params file could not be used; every variant is a usage error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read the params from {source_name}: {error}")]
    Read { source_name: String, error: std::io::Error },
    #[error("the params in {source_name} are not valid JSON: {error}")]
    Json { source_name: String, error: serde_json::Error },
    #[error("the params in {source_name} must be a JSON object of string to string, not {found}")]
    NotAnObject { source_name: String, found: &'static str },
    #[error("param {name:?} in {source_name} is not a string (write every value as a JSON string, e.g. \"1\")")]
    NotAString { source_name: String, name: String },
}

/// The params of a file, in file order. `path` `-` reads `stdin`.
pub fn read_params(path: &str, stdin: &mut dyn Read) -> Result<Vec<(String, String)>, InputError> {
    let source_name = if path == "-" { "stdin".to_owned() } else { path.to_owned() };
    let text = if path == "-" {
        let mut text = String::new();
        stdin.read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|error| InputError::Read { source_name: source_name.clone(), error })?;
    parse_params(&text, &source_name)
}

/// Parses the JSON text of a params file.
pub fn parse_params(text: &str, source_name: &str) -> Result<Vec<(String, String)>, InputError> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|error| InputError::Json { source_name: source_name.into(), error })?;
    let serde_json::Value::Object(map) = json else {
        return Err(InputError::NotAnObject { source_name: source_name.into(), found: kind(&json) });
    };
    map.into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(value) => Ok((name, value)),
            _ => Err(InputError::NotAString { source_name: source_name.into(), name }),
        })
        .collect()
}

fn kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_object_of_strings_in_file_order() {
        let params = parse_params(r#"{"b":"银","a":"1"}"#, "t").unwrap();
        assert_eq!(params, vec![("b".into(), "银".into()), ("a".into(), "1".into())]);
    }

    #[test]
    fn names_the_param_that_is_not_a_string() {
        let err = parse_params(r#"{"num":1}"#, "t").unwrap_err();
        assert!(err.to_string().contains("\"num\""), "{err}");
    }

    #[test]
    fn rejects_arrays_and_broken_json() {
        assert!(matches!(parse_params("[]", "t"), Err(InputError::NotAnObject { found: "an array", .. })));
        assert!(matches!(parse_params("{", "t"), Err(InputError::Json { .. })));
    }
}
