//! A small JSON Schema validator for the subset docs/progress-json.md uses:
//! `type` (one or a list), `const`, `enum`, `required`, `properties`,
//! `additionalProperties: false`, `oneOf`, `minimum`, `maximum` and local
//! `$ref`s into `$defs`. Written here so the test needs no schema crate.

use serde_json::Value;

/// The first ```json block after the "## JSON Schema" heading of the doc.
pub fn progress_schema() -> Value {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/progress-json.md"),
    )
    .expect("docs/progress-json.md");
    let section = doc.split("## JSON Schema").nth(1).expect("schema section");
    let block = section
        .split("```json")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("json block");
    serde_json::from_str(block).expect("schema is JSON")
}

/// Check `value` against `schema` (rooted at `root` for `$ref`s); the error
/// names the JSON path that failed.
pub fn validate(root: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .expect("local ref")
            .split('/')
            .fold(root, |v, key| &v[key]);
        assert!(!target.is_null(), "dangling $ref {r}");
        return validate(root, target, value, path);
    }
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema"),
        };
        let ok = names.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_u64() || value.is_i64(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            other => panic!("unknown type {other}"),
        });
        if !ok {
            return Err(format!("{path}: {value} is not of type {types}"));
        }
    }
    if let Some(c) = schema.get("const") {
        if c != value {
            return Err(format!("{path}: {value} is not {c}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!("{path}: {value} is not one of {options:?}"));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                return Err(format!("{path}: {n} < minimum {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                return Err(format!("{path}: {n} > maximum {max}"));
            }
        }
    }
    if let Some(obj) = value.as_object() {
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(key) {
                    return Err(format!("{path}: missing required `{key}`"));
                }
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (key, v) in obj {
            match props.and_then(|p| p.get(key)) {
                Some(sub) => validate(root, sub, v, &format!("{path}.{key}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{path}: unexpected property `{key}`"))
                }
                None => {}
            }
        }
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching: Vec<usize> = options
            .iter()
            .enumerate()
            .filter(|(_, s)| validate(root, s, value, path).is_ok())
            .map(|(i, _)| i)
            .collect();
        if matching.len() != 1 {
            let why: Vec<String> = options
                .iter()
                .filter_map(|s| validate(root, s, value, path).err())
                .collect();
            return Err(format!(
                "{path}: {value} matches {} of oneOf (must be exactly 1): {why:?}",
                matching.len()
            ));
        }
    }
    Ok(())
}

/// Validate one progress event line.
pub fn check_event(schema: &Value, line: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?;
    validate(schema, schema, &value, "$")?;
    Ok(value)
}
