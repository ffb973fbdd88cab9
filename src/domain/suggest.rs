//! Ranking of partner institutions for a case (`suggestInstitutions`): a documented score from 0 to 100 with a short Japanese reason.
//!
//! Score = tags + region + track record + fit − load − slowness, clamped to
//! 0…100 and rounded to one decimal:
//!
//! | part | points |
//! |---|---|
//! | topic ↔ tag matches `m` (distinct tags) | 0 if m = 0, else min(65, 45 + 10·(m − 1)) |
//! | region | 15 covers the business's region, 10 covers the whole lab area, 5 region unknown, 0 outside |
//! | acceptance rate `r` | 10·r; 5 without history |
//! | `FINANCIAL` and a topic about 資金/融資/補助 (financing, loan, subsidy) | +5 |
//! | stage `TRY` and `INDUSTRY_SUPPORT`/`UNIVERSITY` (trials, test beds) | +5 |
//! | open referrals `n` | −min(10, 1.5·n) |
//! | median pick-up `d` business days | −clamp(4·(d − 1), 0, 10) |
//!
//! The positive parts add up to at most 100, so one matching tag outweighs
//! most other differences. An institution that already holds an open
//! referral on the case scores 0. A topic matches a tag when, ignoring case
//! and full-width forms, one contains the other (the contained one at least
//! 2 characters) and, for Latin letters and digits, on word boundaries:
//! "IoT導入" matches "IoT", "maintenance" does not match "AI".

use super::text::fold;
use super::types::{InstitutionKind, Stage};

const TAG_FIRST: f64 = 45.0;
const TAG_EACH_MORE: f64 = 10.0;
const TAG_MAX: f64 = 65.0;
const REGION_MATCH: f64 = 15.0;
const REGION_WHOLE_AREA: f64 = 10.0;
const REGION_UNKNOWN: f64 = 5.0;
const ACCEPTANCE_MAX: f64 = 10.0;
const ACCEPTANCE_NO_HISTORY: f64 = 5.0;
const FINANCIAL_BOOST: f64 = 5.0;
const TRIAL_BOOST: f64 = 5.0;
const LOAD_PER_REFERRAL: f64 = 1.5;
const LOAD_MAX: f64 = 10.0;
const SLOW_PER_DAY: f64 = 4.0;
const SLOW_FREE_DAYS: f64 = 1.0;
const SLOW_MAX: f64 = 10.0;

/// Words in a topic that make a financial institution more relevant.
const MONEY_WORDS: &[&str] = &["資金", "融資", "補助", "financ", "loan", "subsid"];

/// Names of the region codes of the reference labs, for the reason text;
/// other codes are shown as they are.
const REGION_NAMES: &[(&str, &str)] = &[
    ("TOSEI", "東青"),
    ("CHUNAN", "中南"),
    ("SANPACHI", "三八"),
    ("SEIHOKU", "西北"),
    ("KAMIKITA", "上北"),
    ("SHIMOKITA", "下北"),
    ("KODA", "幸田町"),
];

/// What is known about the case.
#[derive(Debug, Clone, Copy)]
pub struct SuggestInput<'a> {
    pub case_topics: &'a [String],
    /// The business's region code (e.g. `SANPACHI`), if known.
    pub business_region: Option<&'a str>,
    pub stage: Stage,
}

/// What is known about a candidate institution.
#[derive(Debug, Clone, Copy)]
pub struct InstitutionProfile<'a> {
    pub name: &'a str,
    pub kind: InstitutionKind,
    pub tags: &'a [String],
    /// Region codes covered; empty = the whole lab area.
    pub regions: &'a [String],
    /// Referrals to it that are PENDING or ACCEPTED now.
    pub open_referrals: i64,
    /// Share of decided referrals it accepted, 0…1; `None` = no history.
    pub acceptance_rate: Option<f64>,
    /// Median business days from referral to pick-up; `None` = no history.
    pub median_pickup_days: Option<f64>,
    /// It already holds a PENDING or ACCEPTED referral on this case.
    pub already_open_on_case: bool,
}

/// The score of one institution for one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// 0…100, higher is better.
    pub score: f64,
    /// Short Japanese explanation, parts separated by 「／」.
    pub reason: String,
}

/// The display name of a region code.
pub fn region_label(code: &str) -> String {
    REGION_NAMES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Whether `needle` occurs in `hay` (both folded) on Latin word boundaries.
fn contains_on_boundary(hay: &str, needle: &str) -> bool {
    if needle.chars().count() < 2 {
        return false;
    }
    let first_word = needle.chars().next().is_some_and(is_word_char);
    let last_word = needle.chars().next_back().is_some_and(is_word_char);
    hay.match_indices(needle).any(|(i, m)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + m.len()..].chars().next();
        let cut_before = first_word && before.is_some_and(is_word_char);
        let cut_after = last_word && after.is_some_and(is_word_char);
        !cut_before && !cut_after
    })
}

/// Whether a case topic matches an institution tag (see the module docs).
pub fn topic_matches_tag(topic: &str, tag: &str) -> bool {
    let (topic, tag) = (fold(topic), fold(tag));
    if topic.is_empty() || tag.is_empty() {
        return false;
    }
    topic == tag || contains_on_boundary(&topic, &tag) || contains_on_boundary(&tag, &topic)
}

fn format_days(d: f64) -> String {
    format!("{:.1}", d)
}

/// Scores one institution for a case.
pub fn score(input: &SuggestInput, inst: &InstitutionProfile) -> Suggestion {
    if inst.already_open_on_case {
        return Suggestion {
            score: 0.0,
            reason: "この相談で既に紹介中（対応中）です".to_owned(),
        };
    }
    let mut parts: Vec<String> = Vec::new();
    let mut total = 0.0;

    // tags
    let matched: Vec<&str> = inst
        .tags
        .iter()
        .filter(|tag| input.case_topics.iter().any(|t| topic_matches_tag(t, tag)))
        .map(String::as_str)
        .fold(Vec::new(), |mut acc, tag| {
            if !acc.iter().any(|seen: &&str| fold(seen) == fold(tag)) {
                acc.push(tag);
            }
            acc
        });
    if matched.is_empty() {
        parts.push("タグ一致なし".to_owned());
    } else {
        total += (TAG_FIRST + TAG_EACH_MORE * (matched.len() - 1) as f64).min(TAG_MAX);
        parts.push(format!("タグ一致: {}", matched.join(", ")));
    }

    // region
    let covers = |code: &str| {
        inst.regions
            .iter()
            .any(|r| r.trim().eq_ignore_ascii_case(code.trim()))
    };
    match input.business_region {
        _ if inst.regions.is_empty() => {
            total += REGION_WHOLE_AREA;
            parts.push("全域を担当".to_owned());
        }
        Some(code) if covers(code) => {
            total += REGION_MATCH;
            let name = region_label(code.trim());
            if name.ends_with(['市', '町', '村']) {
                parts.push(format!("{name}を担当"));
            } else {
                parts.push(format!("{name}地域を担当"));
            }
        }
        Some(_) => parts.push("担当地域外".to_owned()),
        None => total += REGION_UNKNOWN,
    }

    // fit
    if inst.kind == InstitutionKind::Financial
        && input
            .case_topics
            .iter()
            .any(|t| MONEY_WORDS.iter().any(|w| fold(t).contains(w)))
    {
        total += FINANCIAL_BOOST;
        parts.push("資金面の相談に対応".to_owned());
    }
    if input.stage == Stage::Try
        && matches!(
            inst.kind,
            InstitutionKind::IndustrySupport | InstitutionKind::University
        )
    {
        total += TRIAL_BOOST;
        parts.push("試行・実証に対応".to_owned());
    }

    // track record
    match inst.acceptance_rate.filter(|r| r.is_finite()) {
        Some(r) => {
            let r = r.clamp(0.0, 1.0);
            total += ACCEPTANCE_MAX * r;
            parts.push(format!("受諾率 {:.0}%", r * 100.0));
        }
        None => {
            total += ACCEPTANCE_NO_HISTORY;
            parts.push("受諾実績なし".to_owned());
        }
    }
    if let Some(d) = inst
        .median_pickup_days
        .filter(|d| d.is_finite() && *d >= 0.0)
    {
        total -= (SLOW_PER_DAY * (d - SLOW_FREE_DAYS)).clamp(0.0, SLOW_MAX);
        parts.push(format!("受付まで中央値 {}営業日", format_days(d)));
    }
    if inst.open_referrals > 0 {
        total -= (LOAD_PER_REFERRAL * inst.open_referrals as f64).min(LOAD_MAX);
        parts.push(format!("対応中の紹介 {}件", inst.open_referrals));
    }

    let score = (total.clamp(0.0, 100.0) * 10.0).round() / 10.0;
    Suggestion {
        score,
        reason: parts.join("／"),
    }
}

/// Scores every institution and sorts best first; ties are broken by name,
/// then by position. Returns `(index into insts, suggestion)`.
pub fn rank<'a>(
    input: &SuggestInput,
    insts: &'a [InstitutionProfile<'a>],
) -> Vec<(usize, Suggestion)> {
    let mut out: Vec<(usize, Suggestion)> = insts
        .iter()
        .enumerate()
        .map(|(i, inst)| (i, score(input, inst)))
        .collect();
    out.sort_by(|(ia, a), (ib, b)| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| insts[*ia].name.cmp(insts[*ib].name))
            .then_with(|| ia.cmp(ib))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    fn profile<'a>(
        name: &'a str,
        kind: InstitutionKind,
        tags: &'a [String],
        regions: &'a [String],
    ) -> InstitutionProfile<'a> {
        InstitutionProfile {
            name,
            kind,
            tags,
            regions,
            open_referrals: 0,
            acceptance_rate: None,
            median_pickup_days: None,
            already_open_on_case: false,
        }
    }

    #[test]
    fn matching() {
        assert!(topic_matches_tag("IoT導入", "IoT"));
        assert!(topic_matches_tag("iot", "IoT"));
        assert!(topic_matches_tag("ＡＩ活用", "AI"));
        assert!(topic_matches_tag("AI", "AI・画像認識"));
        assert!(topic_matches_tag("経営改善", "経営"));
        assert!(!topic_matches_tag("maintenance", "AI"));
        assert!(!topic_matches_tag("email配信", "AI"));
        assert!(!topic_matches_tag("ECサイト", "IoT"));
        assert!(topic_matches_tag("ECサイト構築", "EC"));
        assert!(!topic_matches_tag("", "EC"));
        assert!(!topic_matches_tag("あ", "あい"));
    }

    #[test]
    fn example_reason() {
        let topics = s(&["IoT導入", "AIで検品"]);
        let input = SuggestInput {
            case_topics: &topics,
            business_region: Some("SANPACHI"),
            stage: Stage::Consult,
        };
        let tags = s(&["IoT", "ものづくり", "AI"]);
        let regions = s(&["SANPACHI"]);
        let mut p = profile("八戸工業大学", InstitutionKind::University, &tags, &regions);
        p.acceptance_rate = Some(0.8);
        p.median_pickup_days = Some(1.2);
        let r = score(&input, &p);
        assert_eq!(
            r.reason,
            "タグ一致: IoT, AI／三八地域を担当／受諾率 80%／受付まで中央値 1.2営業日"
        );
        // 55 + 15 + 8 − 0.8
        assert!((r.score - 77.2).abs() < 1e-9, "{}", r.score);
    }

    #[test]
    fn already_open_scores_zero() {
        let topics = s(&["IoT"]);
        let input = SuggestInput {
            case_topics: &topics,
            business_region: None,
            stage: Stage::Try,
        };
        let tags = s(&["IoT"]);
        let mut p = profile("センター", InstitutionKind::IndustrySupport, &tags, &[]);
        p.already_open_on_case = true;
        let r = score(&input, &p);
        assert_eq!(r.score, 0.0);
        assert!(r.reason.contains("既に紹介中"));
    }

    #[test]
    fn financial_boost_and_ranking() {
        let topics = s(&["設備投資の資金調達", "IoT"]);
        let input = SuggestInput {
            case_topics: &topics,
            business_region: Some("TOSEI"),
            stage: Stage::Consult,
        };
        let bank_tags = s(&["資金調達", "経営"]);
        let bank2_tags = s(&["経営"]);
        let center_tags = s(&["IoT", "AI"]);
        let hachinohe = s(&["SANPACHI"]);
        let insts = [
            profile("青森銀行", InstitutionKind::Financial, &bank_tags, &[]),
            profile(
                "八戸工業大学",
                InstitutionKind::University,
                &center_tags,
                &hachinohe,
            ),
            profile(
                "産業技術センター",
                InstitutionKind::IndustrySupport,
                &center_tags,
                &[],
            ),
            profile("みちのく銀行", InstitutionKind::Financial, &bank2_tags, &[]),
            profile("商工会", InstitutionKind::IndustrySupport, &bank2_tags, &[]),
        ];
        let bank = score(&input, &insts[0]);
        assert!(bank.reason.contains("資金面の相談に対応"));
        assert!(bank.reason.contains("全域を担当"));
        let ranked = rank(&input, &insts);
        let order: Vec<usize> = ranked.iter().map(|(i, _)| *i).collect();
        // bank (45+10+5+5=65) > centre (45+10+5=60) > Hachinohe (45+0+5=50, outside) > みちのく (10+5+5=20) > 商工会 (10+5=15)
        assert_eq!(order, vec![0, 2, 1, 3, 4]);
        assert!(ranked[2].1.reason.contains("担当地域外"));
        // the no-money bank gets the boost too (topic mentions 資金), but no tag
        assert!(ranked[3].1.reason.starts_with("タグ一致なし"));
    }

    #[test]
    fn load_and_slowness_lower_the_score() {
        let topics = s(&["IoT"]);
        let input = SuggestInput {
            case_topics: &topics,
            business_region: None,
            stage: Stage::Know,
        };
        let tags = s(&["IoT"]);
        let base = profile("A", InstitutionKind::IndustrySupport, &tags, &[]);
        let mut busy = base;
        busy.open_referrals = 4;
        let mut slow = base;
        slow.median_pickup_days = Some(3.0);
        let b = score(&input, &base).score;
        assert!(score(&input, &busy).score < b);
        assert!(score(&input, &slow).score < b);
        assert!(score(&input, &busy).reason.contains("対応中の紹介 4件"));
    }

    #[test]
    fn ties_break_by_name() {
        let topics = s(&[]);
        let input = SuggestInput {
            case_topics: &topics,
            business_region: None,
            stage: Stage::Know,
        };
        let insts = [
            profile("い", InstitutionKind::Other, &[], &[]),
            profile("あ", InstitutionKind::Other, &[], &[]),
            profile("う", InstitutionKind::Other, &[], &[]),
        ];
        let order: Vec<usize> = rank(&input, &insts).into_iter().map(|(i, _)| i).collect();
        assert_eq!(order, vec![1, 0, 2]);
    }

    #[test]
    fn garbage_numbers_are_tolerated() {
        let topics = s(&["x"]);
        let input = SuggestInput {
            case_topics: &topics,
            business_region: Some("?"),
            stage: Stage::Try,
        };
        let mut p = profile("A", InstitutionKind::Financial, &[], &[]);
        p.acceptance_rate = Some(f64::NAN);
        p.median_pickup_days = Some(f64::INFINITY);
        p.open_referrals = -3;
        let r = score(&input, &p);
        assert!((0.0..=100.0).contains(&r.score));
        p.acceptance_rate = Some(7.0);
        assert!(score(&input, &p).score <= 100.0);
    }

    fn arb_kind() -> impl Strategy<Value = InstitutionKind> {
        proptest::sample::select(InstitutionKind::ALL)
    }

    fn arb_stage() -> impl Strategy<Value = Stage> {
        proptest::sample::select(Stage::ALL)
    }

    const WORDS: &[&str] = &[
        "IoT",
        "AI",
        "EC",
        "経営",
        "資金調達",
        "補助金",
        "人材育成",
        "ものづくり",
        "セキュリティ",
        "観光",
    ];

    proptest! {
        #[test]
        fn score_in_range(
            topics in proptest::collection::vec(proptest::sample::select(WORDS).prop_map(String::from), 0..5),
            tags in proptest::collection::vec(proptest::sample::select(WORDS).prop_map(String::from), 0..6),
            regions in proptest::collection::vec(proptest::sample::select(&["TOSEI", "SANPACHI", "KODA"][..]).prop_map(String::from), 0..3),
            region in proptest::option::of(proptest::sample::select(&["TOSEI", "SANPACHI", "X"][..])),
            kind in arb_kind(), stage in arb_stage(),
            open in -5i64..100, rate in proptest::option::of(-1.0f64..2.0), days in proptest::option::of(-1.0f64..30.0),
            already in any::<bool>(),
        ) {
            let input = SuggestInput { case_topics: &topics, business_region: region, stage };
            let p = InstitutionProfile { name: "X", kind, tags: &tags, regions: &regions, open_referrals: open, acceptance_rate: rate, median_pickup_days: days, already_open_on_case: already };
            let r = score(&input, &p);
            prop_assert!((0.0..=100.0).contains(&r.score));
            prop_assert!(!r.reason.is_empty());
        }

        #[test]
        fn monotone_in_tag_matches(
            n_topics in 1usize..6, extra in 0usize..4,
            kind in arb_kind(), stage in arb_stage(),
            open in 0i64..20, rate in proptest::option::of(0.0f64..1.0), days in proptest::option::of(0.0f64..10.0),
        ) {
            let topics: Vec<String> = WORDS[..n_topics].iter().map(|w| w.to_string()).collect();
            let input = SuggestInput { case_topics: &topics, business_region: None, stage };
            // k matching tags plus `extra` non-matching ones, for k = 0..=n_topics
            let mut prev = -1.0;
            for k in 0..=n_topics {
                let mut tags: Vec<String> = WORDS[..k].iter().map(|w| w.to_string()).collect();
                tags.extend((0..extra).map(|i| format!("無関係{i}")));
                let p = InstitutionProfile { name: "X", kind, tags: &tags, regions: &[], open_referrals: open, acceptance_rate: rate, median_pickup_days: days, already_open_on_case: false };
                let sc = score(&input, &p).score;
                prop_assert!(sc >= prev, "k={} score {} < {}", k, sc, prev);
                prev = sc;
            }
        }
    }
}
