//! Choosing a language from `Accept-Language` (RFC 9110 §12.5.4): ranges are
//! weighed by their `q`, and each is matched by RFC 4647 lookup, so `de-AT` falls
//! back to `de`. A `q=0` range rules a language out.

use super::Language;

/// More ranges than any browser sends; the rest of a longer header is ignored.
const MAX_RANGES: usize = 32;

pub(super) fn negotiate(header: &str, fallback: Language) -> Language {
    let mut ranges: Vec<(&str, u16)> = header
        .split(',')
        .take(MAX_RANGES)
        .filter_map(parse_range)
        .collect();
    // Stable, so ranges of equal weight keep the order the client gave them.
    ranges.sort_by_key(|(_, q)| std::cmp::Reverse(*q));
    let refused = |lang: Language| {
        ranges
            .iter()
            .any(|(range, q)| *q == 0 && range.eq_ignore_ascii_case(lang.code()))
    };
    for (range, q) in &ranges {
        if *q == 0 {
            break;
        }
        if *range == "*" {
            if let Some(lang) = std::iter::once(fallback)
                .chain(Language::all())
                .find(|lang| !refused(*lang))
            {
                return lang;
            }
            continue;
        }
        if let Some(lang) = lookup(range).filter(|lang| !refused(*lang)) {
            return lang;
        }
    }
    fallback
}

/// `de-AT;q=0.8` ⇒ (`de-AT`, 800). Malformed ranges and weights are skipped.
fn parse_range(item: &str) -> Option<(&str, u16)> {
    let mut parts = item.split(';');
    let range = parts.next()?.trim();
    let is_tag = range == "*"
        || (!range.is_empty()
            && range.len() <= 35
            && range.split('-').all(|sub| {
                (1..=8).contains(&sub.len()) && sub.bytes().all(|b| b.is_ascii_alphanumeric())
            }));
    if !is_tag {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = parse_weight(value.trim())?;
        }
    }
    Some((range, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_weight(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// RFC 4647 lookup: the tag itself, then shorter and shorter prefixes of it.
fn lookup(range: &str) -> Option<Language> {
    let mut tag = range;
    loop {
        if let Some(lang) = Language::find(tag) {
            return Some(lang);
        }
        let cut = tag.rfind('-')?;
        tag = &tag[..cut];
        // A single-letter subtag (`x`, an extension) is never kept at the end.
        if let Some(cut) = tag.rfind('-').filter(|cut| tag.len() - cut == 2) {
            tag = &tag[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(header: &str, fallback: &str) -> &'static str {
        negotiate(header, Language::find(fallback).unwrap()).code()
    }

    #[test]
    fn languages_are_chosen_by_weight_and_by_prefix() {
        let cases = [
            // (header, fallback, expected)
            ("", "en", "en"),
            ("", "de", "de"),
            ("de", "en", "de"),
            ("de-DE", "en", "de"),
            ("de-AT,en;q=0.5", "en", "de"),
            ("DE-at", "en", "de"),
            ("en-US,en;q=0.9,de;q=0.8", "de", "en"),
            ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "de", "en"),
            ("en;q=0.3, de;q=0.7", "en", "de"),
            ("en;q=0.5,de;q=0.5", "de", "en"),
            ("fr, ja", "de", "de"),
            ("fr, ja", "en", "en"),
            ("*", "de", "de"),
            ("fr, *;q=0.1", "de", "de"),
            ("de;q=0, *", "de", "en"),
            ("de;q=0, de-AT", "en", "en"),
            ("de;q=0.000, en;q=0.001", "de", "en"),
            ("en;q=1.0, de;q=0.9", "de", "en"),
            ("de-x-private", "en", "de"),
            ("zh-Hant-TW, de;q=0.1", "en", "de"),
            // Malformed ranges and weights are skipped, not fatal.
            ("en;q=2, de", "en", "de"),
            ("en;q=abc, de;q=0.2", "en", "de"),
            ("en;q=0.1234, de;q=0.2", "en", "de"),
            ("<script>, de", "en", "de"),
            (";;;,,,", "de", "de"),
            ("en;q", "de", "de"),
        ];
        for (header, fallback, expected) in cases {
            assert_eq!(
                pick(header, fallback),
                expected,
                "Accept-Language: {header:?} (default {fallback})"
            );
        }
    }

    #[test]
    fn a_huge_header_is_cut_short() {
        let header = format!("{}de", "xx,".repeat(10_000));
        assert_eq!(
            pick(&header, "en"),
            "en",
            "ranges after the 32nd are ignored"
        );
    }

    #[test]
    fn weights_parse_as_the_rfc_writes_them() {
        for (value, expected) in [
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1.001", None),
            ("0.1234", None),
            ("-0.5", None),
            ("", None),
            (".5", None),
        ] {
            assert_eq!(parse_weight(value), expected, "q={value}");
        }
    }
}
