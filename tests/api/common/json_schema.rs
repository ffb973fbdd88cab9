//! A small validator for the JSON Schema keywords our documented formats use
//! (`docs/report-format.schema.json`, `docs/lab-file.schema.json`,
//! `docs/business-export.schema.json`). Any other keyword fails the test, so a
//! check cannot silently weaken when a schema grows.

use serde_json::Value;

const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "$defs",
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "format",
];

fn below(obj: &serde_json::Map<String, Value>, key: &str, n: f64) -> bool {
    obj.get(key).and_then(Value::as_f64).is_some_and(|m| n < m)
}

fn above(obj: &serde_json::Map<String, Value>, key: &str, n: f64) -> bool {
    obj.get(key).and_then(Value::as_f64).is_some_and(|m| n > m)
}

/// Checks `v` against `schema` (a part of `root`, where `$ref`s point),
/// pushing one line per violation onto `errors`.
pub fn validate(root: &Value, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let obj = schema.as_object().expect("schema object");
    for k in obj.keys() {
        assert!(
            KEYWORDS.contains(&k.as_str()),
            "unsupported schema keyword {k} at {path}"
        );
    }
    if let Some(r) = obj.get("$ref") {
        let name = r.as_str().unwrap().strip_prefix("#/$defs/").unwrap();
        return validate(root, &root["$defs"][name], v, path, errors);
    }
    if let Some(t) = obj.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap()).collect(),
            _ => panic!("bad type"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            _ => panic!("unknown type {t}"),
        });
        if !ok {
            errors.push(format!("{path}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(c) = obj.get("const") {
        if c != v {
            errors.push(format!("{path}: {v} != {c}"));
        }
    }
    if let Some(e) = obj.get("enum") {
        if !e.as_array().unwrap().contains(v) {
            errors.push(format!("{path}: {v} not in {e}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if below(obj, "minimum", n) {
            errors.push(format!("{path}: {n} below minimum"));
        }
        if above(obj, "maximum", n) {
            errors.push(format!("{path}: {n} above maximum"));
        }
    }
    if let Some(s) = v.as_str() {
        let n = s.chars().count() as f64;
        if below(obj, "minLength", n) {
            errors.push(format!("{path}: shorter than minLength"));
        }
        if above(obj, "maxLength", n) {
            errors.push(format!("{path}: longer than maxLength"));
        }
        match obj.get("format").and_then(Value::as_str) {
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                errors.push(format!("{path}: {s} is not a date-time"));
            }
            Some("date") if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() => {
                errors.push(format!("{path}: {s} is not a date"));
            }
            _ => {}
        }
    }
    if let Some(a) = v.as_array() {
        let n = a.len() as f64;
        if below(obj, "minItems", n) {
            errors.push(format!("{path}: fewer than minItems"));
        }
        if above(obj, "maxItems", n) {
            errors.push(format!("{path}: more than maxItems"));
        }
        if let Some(items) = obj.get("items") {
            for (i, x) in a.iter().enumerate() {
                validate(root, items, x, &format!("{path}[{i}]"), errors);
            }
        }
    }
    if let Some(o) = v.as_object() {
        let props = obj.get("properties").and_then(Value::as_object);
        for req in obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(req.as_str().unwrap()) {
                errors.push(format!("{path}: missing {req}"));
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(root, s, x, &format!("{path}.{k}"), errors),
                None if obj.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: unexpected property {k}"))
                }
                None => {}
            }
        }
    }
}
