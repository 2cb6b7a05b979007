//! Languages: one catalogue of texts per language (`locales/<lang>.toml`, flat keys
//! with `{placeholders}`) and its emails (`templates/email/<lang>/`), all
//! compiled in. `build.rs` finds them, so adding a language is adding files.
//!
//! English is the reference: every catalogue has exactly its keys and
//! placeholders (a unit test checks), and a key missing at run time falls back to
//! the English text rather than showing a key to a person.

mod accept;

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use maud::{Markup, html};

/// One built-in language, as `build.rs` lists it.
struct Builtin {
    code: &'static str,
    catalogue: &'static str,
    /// The email templates: file name and source (`code.txt`, `code.html`, …).
    emails: &'static [(&'static str, &'static str)],
}

include!(concat!(env!("OUT_DIR"), "/languages.rs"));

struct Catalogue {
    builtin: &'static Builtin,
    texts: HashMap<String, String>,
}

static CATALOGUES: LazyLock<Vec<Catalogue>> = LazyLock::new(|| {
    BUILTIN
        .iter()
        .map(|builtin| Catalogue {
            builtin,
            texts: parse_catalogue(builtin.catalogue)
                .unwrap_or_else(|e| panic!("locales/{}.toml: {e}", builtin.code)),
        })
        .collect()
});

/// A language doorcode has texts for. Cheap to copy; compares by its tag.
#[derive(Clone, Copy)]
pub struct Language(&'static Catalogue);

impl Language {
    /// Every built-in language, in tag order.
    pub fn all() -> impl Iterator<Item = Language> {
        CATALOGUES.iter().map(Language)
    }

    /// Tags of every built-in language (`de, en`), for messages.
    pub fn tags() -> String {
        Self::all()
            .map(Language::code)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The language with this tag (`de`, `pt-BR`; any case), if there is one.
    pub fn find(tag: &str) -> Option<Language> {
        Self::all().find(|lang| lang.code().eq_ignore_ascii_case(tag))
    }

    /// The reference language, which `build.rs` makes sure is there.
    pub fn english() -> Language {
        Self::find("en").expect("build.rs requires locales/en.toml")
    }

    /// The best language for an `Accept-Language` header, else `fallback`.
    pub fn negotiate(accept_language: Option<&str>, fallback: Language) -> Language {
        accept::negotiate(accept_language.unwrap_or(""), fallback)
    }

    /// The tag, as used in `<html lang>`, `Content-Language` and the outbox.
    pub fn code(self) -> &'static str {
        self.0.builtin.code
    }

    /// The built-in email templates: file name and source. Every language has the
    /// same kinds of email (`build.rs` makes sure).
    pub(crate) fn email_sources(self) -> &'static [(&'static str, &'static str)] {
        self.0.builtin.emails
    }

    /// The text for `key`, if this language or English has it.
    pub fn lookup(self, key: &str) -> Option<&'static str> {
        self.0
            .texts
            .get(key)
            .or_else(|| Self::english().0.texts.get(key))
            .map(String::as_str)
    }

    /// The text for `key`. A key nobody has shows as itself, so a mistake is visible
    /// without breaking the page.
    pub fn text(self, key: &str) -> &str {
        self.lookup(key).unwrap_or_else(|| {
            tracing::error!(key, language = self.code(), "no text for this key");
            key
        })
    }

    /// The text for `key` with its `{placeholders}` filled in.
    pub fn fill(self, key: &str, args: &[(&str, &dyn fmt::Display)]) -> String {
        let mut out = String::new();
        for piece in pieces(self.text(key)) {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Placeholder(name) => match args.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(&value.to_string()),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                },
            }
        }
        out
    }

    /// `key.one` for 1 and `key.other` otherwise, with `{n}` filled in. (One/other is
    /// enough for the languages here; a language with more forms needs more keys.)
    pub fn count(self, key: &str, n: i64) -> String {
        let form = if n == 1 { "one" } else { "other" };
        self.fill(&format!("{key}.{form}"), &[("n", &n)])
    }

    /// Like [`fill`](Self::fill), for HTML: the text is escaped and each placeholder
    /// becomes the markup given for it (e.g. the address in `<strong>`).
    pub fn rich(self, key: &str, args: &[(&str, Markup)]) -> Markup {
        html! {
            @for piece in pieces(self.text(key)) {
                @match piece {
                    Piece::Text(text) => (text),
                    Piece::Placeholder(name) => @match args.iter().find(|(n, _)| *n == name) {
                        Some((_, markup)) => (markup),
                        None => { "{" (name) "}" }
                    },
                }
            }
        }
    }
}

impl PartialEq for Language {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for Language {}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Reads a catalogue: TOML whose tables are flattened into dotted keys, so
/// `code.heading = "…"` and `[code] heading = "…"` are the same key.
fn parse_catalogue(source: &str) -> Result<HashMap<String, String>, String> {
    let table: toml::Table = source.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut texts = HashMap::new();
    flatten("", &table, &mut texts)?;
    Ok(texts)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    texts: &mut HashMap<String, String>,
) -> Result<(), String> {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(text) => {
                texts.insert(key, text.clone());
            }
            toml::Value::Table(inner) => flatten(&key, inner, texts)?,
            _ => return Err(format!("`{key}` must be a string")),
        }
    }
    Ok(())
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

/// Splits a text into literal parts and `{name}` placeholders, in one pass, so a
/// value that itself contains braces is never filled in again.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            if open > 0 {
                out.push(Piece::Text(&rest[..open]));
            }
            out.push(Piece::Placeholder(&after[..name_len]));
            rest = &after[name_len + 1..];
        } else {
            out.push(Piece::Text(&rest[..=open]));
            rest = after;
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn placeholders(text: &str) -> BTreeSet<&str> {
        pieces(text)
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Placeholder(name) => Some(name),
                Piece::Text(_) => None,
            })
            .collect()
    }

    #[test]
    fn every_catalogue_has_the_same_keys_and_placeholders_as_english() {
        let english = &Language::english().0.texts;
        assert!(Language::all().count() >= 2, "English and German at least");
        for lang in Language::all() {
            let texts = &lang.0.texts;
            let mut missing: Vec<_> = english.keys().filter(|k| !texts.contains_key(*k)).collect();
            let mut extra: Vec<_> = texts.keys().filter(|k| !english.contains_key(*k)).collect();
            missing.sort();
            extra.sort();
            assert!(missing.is_empty(), "locales/{lang}.toml lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "locales/{lang}.toml has keys English lacks: {extra:?}"
            );
            for (key, text) in texts {
                assert_eq!(
                    placeholders(text),
                    placeholders(&english[key]),
                    "locales/{lang}.toml: `{key}` must have the same placeholders as English"
                );
                assert!(
                    !text.trim().is_empty(),
                    "locales/{lang}.toml: `{key}` is empty"
                );
            }
        }
    }

    #[test]
    fn every_key_the_code_uses_is_in_the_english_catalogue() {
        let english = &Language::english().0.texts;
        let mut files = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut used = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for call in [".text(\"", ".fill(\"", ".rich(\"", ".count(\""] {
                for (at, _) in source.match_indices(call) {
                    let key = &source[at + call.len()..];
                    let key = &key[..key.find('"').unwrap()];
                    let keys = if call == ".count(\"" {
                        vec![format!("{key}.one"), format!("{key}.other")]
                    } else {
                        vec![key.to_owned()]
                    };
                    for key in keys {
                        used += 1;
                        assert!(
                            english.contains_key(&key),
                            "{} uses `{key}`, which locales/en.toml lacks",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(used > 50, "the scan found only {used} keys");
    }

    #[test]
    fn placeholders_are_filled_once_and_unknown_ones_stay() {
        let en = Language::english();
        assert_eq!(
            en.fill(
                "email.subject",
                &[("code", &"123456"), ("app_name", &"{code}")]
            ),
            "123456 is your {code} code"
        );
        let parts: Vec<_> = pieces("a {x} {y z} {}")
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => format!("T{t}"),
                Piece::Placeholder(n) => format!("P{n}"),
            })
            .collect();
        assert_eq!(parts, ["Ta ", "Px", "T {", "Ty z} {", "T}"]);
    }

    #[test]
    fn rich_texts_escape_the_text_and_keep_the_markup() {
        let de = Language::find("de").unwrap();
        let markup = de.rich("code.sent_to", &[("email", html! { strong { "a@b.c" } })]);
        let html = markup.into_string();
        assert!(html.contains("<strong>a@b.c</strong>"), "{html}");
        assert!(!html.contains("{email}"), "{html}");
    }

    #[test]
    fn counts_pick_the_plural_form() {
        let en = Language::english();
        assert_eq!(en.count("time.in_minutes", 1), "in 1 minute");
        assert_eq!(en.count("time.in_minutes", 10), "in 10 minutes");
        let de = Language::find("DE").unwrap();
        assert_eq!(de.count("time.in_minutes", 10), "in 10 Minuten");
    }
}
