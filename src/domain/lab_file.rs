//! The lab file `dxdesk lab import` reads (the format of `data/labs.json`,
//! documented in `docs/lab-file.md` and `docs/lab-file.schema.json`): parsing
//! and validating the whole file, with the line of each problem, before
//! anything is written.

use super::types::InstitutionKind;
use chrono::NaiveDate;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// A region of a lab: a code, a name and its municipalities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSpec {
    pub code: String,
    pub name: String,
    pub municipalities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InstitutionSpec {
    pub name: String,
    pub kind: InstitutionKind,
    pub tags: Vec<String>,
    pub regions: Vec<String>,
    /// Names the institution had before (a rename keeps its referrals).
    pub formerly: Vec<String>,
    pub pickup_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabSpec {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub regions: Vec<RegionSpec>,
    pub institutions: Vec<InstitutionSpec>,
}

/// A problem of the file: where (line, JSON path) and why, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub path: String,
    pub ja: String,
    pub en: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {}: {} / {}",
            self.line, self.path, self.ja, self.en
        )
    }
}

/// Parses and validates a whole lab file: the labs, or every problem found.
pub fn parse(text: &str) -> Result<Vec<LabSpec>, Vec<Problem>> {
    let root: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Err(vec![Problem {
                line: e.line(),
                path: "$".into(),
                ja: format!("JSONとして読めません（{}列目）: {e}", e.column()),
                en: format!("not valid JSON (column {}): {e}", e.column()),
            }])
        }
    };
    let lines = value_lines(text);
    let mut v = Validator {
        lines,
        problems: Vec::new(),
    };
    let labs = v.root(&root);
    if v.problems.is_empty() {
        Ok(labs)
    } else {
        v.problems.sort_by_key(|p| p.line);
        Err(v.problems)
    }
}

/// Is `s` the name of a Japanese municipality (市区町村)?
pub fn is_municipality_name(s: &str) -> bool {
    let n = s.chars().count();
    (2..=30).contains(&n)
        && s.trim() == s
        && !s.chars().any(char::is_control)
        && s.ends_with(['市', '区', '町', '村'])
}

fn is_code(s: &str, max: usize) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some('A'..='Z'))
        && s.len() <= max
        && cs.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

struct Validator {
    lines: HashMap<String, usize>,
    problems: Vec<Problem>,
}

impl Validator {
    fn line(&self, path: &str) -> usize {
        // The value's own line, else the nearest enclosing value's.
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return *l;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return 1,
            }
        }
    }

    fn bad(&mut self, path: &str, ja: impl Into<String>, en: impl Into<String>) {
        self.problems.push(Problem {
            line: self.line(path),
            path: path.to_owned(),
            ja: ja.into(),
            en: en.into(),
        });
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        let o = v.as_object();
        if o.is_none() {
            self.bad(path, "オブジェクトではありません。", "is not an object");
        }
        o
    }

    fn known_keys(&mut self, o: &Map<String, Value>, path: &str, keys: &[&str]) {
        for k in o.keys() {
            if !keys.contains(&k.as_str()) {
                self.bad(
                    &format!("{path}.{k}"),
                    format!("不明な項目「{k}」です（使える項目: {}）。", keys.join(", ")),
                    format!("unknown field {k:?} (known: {})", keys.join(", ")),
                );
            }
        }
    }

    fn text(
        &mut self,
        o: &Map<String, Value>,
        path: &str,
        key: &str,
        max: usize,
    ) -> Option<String> {
        let p = format!("{path}.{key}");
        match o.get(key) {
            None => {
                self.bad(
                    path,
                    format!("「{key}」がありません。"),
                    format!("{key} is missing"),
                );
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
                Some(s.trim().to_owned())
            }
            Some(Value::String(_)) => {
                self.bad(
                    &p,
                    format!("空でない{max}文字以内の文字列にしてください。"),
                    format!("must be a non-empty string of at most {max} characters"),
                );
                None
            }
            Some(_) => {
                self.bad(&p, "文字列ではありません。", "is not a string");
                None
            }
        }
    }

    fn optional_text(
        &mut self,
        o: &Map<String, Value>,
        path: &str,
        key: &str,
        max: usize,
    ) -> String {
        match o.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(_) => self.text(o, path, key, max).unwrap_or_default(),
        }
    }

    fn array<'v>(
        &mut self,
        o: &'v Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
    ) -> &'v [Value] {
        match o.get(key) {
            None if !required => &[],
            None => {
                self.bad(
                    path,
                    format!("「{key}」がありません。"),
                    format!("{key} is missing"),
                );
                &[]
            }
            Some(Value::Array(a)) => a,
            Some(_) => {
                self.bad(
                    &format!("{path}.{key}"),
                    "配列ではありません。",
                    "is not an array",
                );
                &[]
            }
        }
    }

    fn strings(
        &mut self,
        o: &Map<String, Value>,
        path: &str,
        key: &str,
        max: usize,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (i, x) in self.array(o, path, key, false).iter().enumerate() {
            match x.as_str().map(str::trim) {
                Some(s) if !s.is_empty() && s.chars().count() <= max => out.push(s.to_owned()),
                _ => self.bad(
                    &format!("{path}.{key}[{i}]"),
                    format!("空でない{max}文字以内の文字列にしてください。"),
                    format!("must be a non-empty string of at most {max} characters"),
                ),
            }
        }
        out
    }

    fn pickup_days(&mut self, o: &Map<String, Value>, path: &str) -> Option<i64> {
        match o.get("pickup_days") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(n) if (1..=30).contains(&n) => Some(n),
                _ => {
                    self.bad(
                        &format!("{path}.pickup_days"),
                        "受付期限の営業日数は1から30の整数にしてください。",
                        "pickup_days must be an integer from 1 to 30",
                    );
                    None
                }
            },
        }
    }

    fn root(&mut self, root: &Value) -> Vec<LabSpec> {
        let Some(o) = self.object(root, "$") else {
            return Vec::new();
        };
        let labs = self.array(o, "$", "labs", true);
        if labs.is_empty() && o.get("labs").is_some_and(Value::is_array) {
            self.bad("$.labs", "ラボが1つもありません。", "holds no lab");
        }
        let mut codes = HashSet::new();
        let mut out = Vec::new();
        for (i, lab) in labs.iter().enumerate() {
            let path = format!("$.labs[{i}]");
            if let Some(spec) = self.lab(lab, &path) {
                if !codes.insert(spec.code.clone()) {
                    self.bad(
                        &format!("{path}.code"),
                        format!("ラボのコード {} が重複しています。", spec.code),
                        format!("lab code {} appears twice", spec.code),
                    );
                }
                out.push(spec);
            }
        }
        out
    }

    fn lab(&mut self, v: &Value, path: &str) -> Option<LabSpec> {
        let o = self.object(v, path)?;
        self.known_keys(
            o,
            path,
            &[
                "code",
                "name",
                "name_en",
                "selected",
                "secretariat",
                "desk",
                "regions",
                "institutions",
                "kpi_targets",
                "pickup_days",
            ],
        );
        let code = self.text(o, path, "code", 16);
        if let Some(c) = &code {
            if !is_code(c, 16) {
                self.bad(&format!("{path}.code"), "ラボのコードは英大文字で始まる英大文字・数字・_ にしてください（例: AOM）。", "a lab code is upper-case letters, digits and _, starting with a letter (e.g. AOM)");
            }
        }
        let name = self.text(o, path, "name", 100);
        let name_en = self.optional_text(o, path, "name_en", 200);
        if let Some(s) = o.get("selected") {
            if s.as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .is_none()
            {
                self.bad(
                    &format!("{path}.selected"),
                    "選定日は YYYY-MM-DD の日付にしてください。",
                    "selected must be a date YYYY-MM-DD",
                );
            }
        }
        self.pickup_days(o, path);
        let regions = self.regions(o, path);
        let region_codes: HashSet<&str> = regions.iter().map(|r| r.code.as_str()).collect();
        let mut names = HashSet::new();
        let mut institutions = Vec::new();
        for (i, x) in self.array(o, path, "institutions", true).iter().enumerate() {
            let p = format!("{path}.institutions[{i}]");
            if let Some(inst) = self.institution(x, &p, &region_codes) {
                if !names.insert(inst.name.clone()) {
                    self.bad(
                        &format!("{p}.name"),
                        format!("連携機関「{}」が重複しています。", inst.name),
                        format!("institution {:?} appears twice", inst.name),
                    );
                }
                institutions.push(inst);
            }
        }
        for (i, x) in self.array(o, path, "kpi_targets", false).iter().enumerate() {
            self.kpi(x, &format!("{path}.kpi_targets[{i}]"));
        }
        Some(LabSpec {
            code: code?,
            name: name?,
            name_en,
            regions,
            institutions,
        })
    }

    fn regions(&mut self, o: &Map<String, Value>, path: &str) -> Vec<RegionSpec> {
        let list = self.array(o, path, "regions", true);
        if list.is_empty() && o.get("regions").is_some_and(Value::is_array) {
            self.bad(
                &format!("{path}.regions"),
                "地域が1つもありません。",
                "holds no region",
            );
        }
        let mut codes = HashSet::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let p = format!("{path}.regions[{i}]");
            let Some(ro) = self.object(r, &p) else {
                continue;
            };
            self.known_keys(ro, &p, &["code", "name", "municipalities"]);
            let code = self.text(ro, &p, "code", 32);
            if let Some(c) = &code {
                if !is_code(c, 32) {
                    self.bad(&format!("{p}.code"), "地域コードは英大文字で始まる英大文字・数字・_ にしてください（例: TOSEI）。", "a region code is upper-case letters, digits and _, starting with a letter (e.g. TOSEI)");
                } else if !codes.insert(c.clone()) {
                    self.bad(
                        &format!("{p}.code"),
                        format!("地域コード {c} が重複しています。"),
                        format!("region code {c} appears twice"),
                    );
                }
            }
            let name = self.text(ro, &p, "name", 50);
            let ms = self.array(ro, &p, "municipalities", true);
            if ms.is_empty() && ro.get("municipalities").is_some_and(Value::is_array) {
                self.bad(
                    &format!("{p}.municipalities"),
                    "市区町村が1つもありません。",
                    "holds no municipality",
                );
            }
            let mut municipalities = Vec::new();
            for (j, m) in ms.iter().enumerate() {
                let mp = format!("{p}.municipalities[{j}]");
                match m.as_str() {
                    Some(s) if is_municipality_name(s) => {
                        let here = code.clone().unwrap_or_default();
                        if let Some(other) = seen.insert(s.to_owned(), here) {
                            self.bad(&mp, format!("市区町村「{s}」は地域 {other} にもあります。"), format!("municipality {s:?} is also in region {other}"));
                        }
                        municipalities.push(s.to_owned());
                    }
                    Some(s) => self.bad(&mp, format!("「{s}」は市区町村名ではありません（「市」「区」「町」「村」で終わる、前後に空白のない30文字以内の名前にしてください）。"), format!("{s:?} is not a municipality name (ends in 市, 区, 町 or 村, no surrounding spaces, at most 30 characters)")),
                    None => self.bad(&mp, "市区町村名は文字列にしてください。", "a municipality is a string"),
                }
            }
            if let (Some(code), Some(name)) = (code, name) {
                out.push(RegionSpec {
                    code,
                    name,
                    municipalities,
                });
            }
        }
        out
    }

    fn institution(
        &mut self,
        v: &Value,
        path: &str,
        regions: &HashSet<&str>,
    ) -> Option<InstitutionSpec> {
        let o = self.object(v, path)?;
        self.known_keys(
            o,
            path,
            &[
                "name",
                "kind",
                "tags",
                "regions",
                "formerly",
                "pickup_days",
                "role",
            ],
        );
        let name = self.text(o, path, "name", 100);
        let kind = self.text(o, path, "kind", 40).and_then(|k| {
            let parsed = InstitutionKind::parse(&k);
            if parsed.is_none() {
                let all: Vec<&str> = InstitutionKind::ALL.iter().map(|k| k.as_str()).collect();
                self.bad(
                    &format!("{path}.kind"),
                    format!("種別「{k}」はありません（{}）。", all.join(", ")),
                    format!("unknown kind {k:?} ({})", all.join(", ")),
                );
            }
            parsed
        });
        let tags = self.strings(o, path, "tags", 30);
        let rs = self.strings(o, path, "regions", 32);
        for (i, r) in rs.iter().enumerate() {
            if !regions.contains(r.as_str()) {
                self.bad(
                    &format!("{path}.regions[{i}]"),
                    format!("地域コード {r} はこのラボにありません。"),
                    format!("region {r} is not a region of this lab"),
                );
            }
        }
        let formerly = self.strings(o, path, "formerly", 100);
        let pickup_days = self.pickup_days(o, path);
        Some(InstitutionSpec {
            name: name?,
            kind: kind?,
            tags,
            regions: rs,
            formerly,
            pickup_days,
        })
    }

    fn kpi(&mut self, v: &Value, path: &str) {
        let Some(o) = self.object(v, path) else {
            return;
        };
        self.known_keys(
            o,
            path,
            &["name", "unit", "per_fiscal_year", "cumulative_by", "target"],
        );
        self.text(o, path, "name", 100);
        self.text(o, path, "unit", 20);
        let positive = |k: &str| {
            o.get(k)
                .and_then(Value::as_f64)
                .is_some_and(|n| n > 0.0 && n.is_finite())
        };
        let year = o
            .get("cumulative_by")
            .and_then(Value::as_str)
            .is_some_and(|y| y.len() == 4 && y.parse::<i32>().is_ok());
        if !(positive("per_fiscal_year") || (year && positive("target"))) {
            self.bad(path, "目標は per_fiscal_year（毎年度の数）か、cumulative_by（年度 \"2026\"）と target の組にしてください。", "a target has per_fiscal_year, or cumulative_by (a year, \"2026\") with target, all positive");
        }
    }
}

/// The line each value starts on, by JSON path (`$.labs[0].regions[1].code`).
/// The text must be valid JSON (parse it first).
pub fn value_lines(text: &str) -> HashMap<String, usize> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        out: HashMap::new(),
    };
    s.value("$".to_owned());
    s.out
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    out: HashMap<String, usize>,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.i += 1;
        }
    }

    fn string(&mut self) -> String {
        let start = self.i;
        self.i += 1;
        while let Some(&c) = self.b.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => break,
                _ => {}
            }
        }
        serde_json::from_slice(&self.b[start..self.i.min(self.b.len())]).unwrap_or_default()
    }

    fn value(&mut self, path: String) {
        self.ws();
        self.out.insert(path.clone(), self.line);
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b'}') | None => {
                            self.i += 1;
                            return;
                        }
                        Some(b',') => self.i += 1,
                        Some(b'"') => {
                            let key = self.string();
                            self.ws();
                            self.i += 1; // ':'
                            self.value(format!("{path}.{key}"));
                        }
                        Some(_) => self.i += 1,
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b']') | None => {
                            self.i += 1;
                            return;
                        }
                        Some(b',') => self.i += 1,
                        Some(_) => {
                            self.value(format!("{path}[{n}]"));
                            n += 1;
                        }
                    }
                }
            }
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while let Some(&c) = self.b.get(self.i) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r') {
                        break;
                    }
                    self.i += 1;
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_file_is_valid() {
        let labs = parse(include_str!("../../data/labs.json")).unwrap();
        assert_eq!(labs.len(), 2);
        assert_eq!(labs[0].code, "AOM");
    }

    #[test]
    fn lines_of_values() {
        let text = "{\n  \"labs\": [\n    {\"code\": \"X\",\n     \"regions\": [1, \"a\"]}\n  ]\n}";
        let l = value_lines(text);
        assert_eq!(l["$.labs"], 2);
        assert_eq!(l["$.labs[0].code"], 3);
        assert_eq!(l["$.labs[0].regions[1]"], 4);
    }

    #[test]
    fn a_bad_municipality_is_refused_with_its_line() {
        let text = r#"{"labs": [{
  "code": "TST", "name": "テストラボ",
  "regions": [{"code": "A", "name": "A地域", "municipalities": [
    "甲市",
    "Otsu"
  ]}],
  "institutions": [{"name": "機関", "kind": "NOPE", "regions": ["B"]}]
}]}"#;
        let err = parse(text).unwrap_err();
        assert!(
            err.iter()
                .any(|p| p.line == 5 && p.path.ends_with("municipalities[1]")),
            "{err:#?}"
        );
        assert!(err.iter().any(|p| p.path.ends_with(".kind")), "{err:#?}");
        assert!(
            err.iter()
                .any(|p| p.path.ends_with("regions[0]") && p.line == 7),
            "{err:#?}"
        );
    }

    #[test]
    fn municipality_names() {
        for ok in ["盛岡市", "千代田区", "岩手町", "田野畑村"] {
            assert!(is_municipality_name(ok), "{ok}");
        }
        for bad in ["Morioka", " 盛岡市", "市", "盛岡"] {
            assert!(!is_municipality_name(bad), "{bad}");
        }
    }
}
