//! The emails, rendered from `templates/email/<lang>/<kind>.txt` and `<kind>.html`,
//! one pair per kind of message and language, with the subject from that
//! language's catalogue.
//!
//! The HTML parts extend `templates/email/_layout.html`, one frame for every
//! language. The files are compiled in as defaults; when the working directory has
//! a `templates/email/<lang>` folder holding a kind's pair, or its own
//! `templates/email/_layout.html`, they are used instead, so operators can edit
//! them without rebuilding. All are read once at start-up.

use std::path::Path;

use anyhow::Context;
use minijinja::{Environment, Value, context};

use crate::i18n::Language;
use crate::storage::MailKind;

pub struct EmailTemplates {
    /// One per built-in language, in `Language::all()` order.
    languages: Vec<(Language, Environment<'static>)>,
}

pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What one email says, by kind.
#[derive(Debug, Clone, Copy)]
pub enum Letter<'a> {
    /// A sign-in code and how many minutes it works.
    Code { code: &'a str, minutes: u64 },
    /// The address's limits stopped a code: someone keeps asking for them.
    LimitNotice { address: &'a str },
    /// An operator invited the address to make an account, for `hours` more hours.
    Invitation { address: &'a str, hours: u64 },
    /// To `address`: `about` was added to the same account.
    AddressAdded { address: &'a str, about: &'a str },
    /// To `address`: `about` was removed from the same account.
    AddressRemoved { address: &'a str, about: &'a str },
}

impl Letter<'_> {
    pub fn kind(&self) -> MailKind {
        match self {
            Letter::Code { .. } => MailKind::Code,
            Letter::LimitNotice { .. } => MailKind::LimitNotice,
            Letter::Invitation { .. } => MailKind::Invitation,
            Letter::AddressAdded { .. } => MailKind::AddressAdded,
            Letter::AddressRemoved { .. } => MailKind::AddressRemoved,
        }
    }

    fn subject(&self, lang: Language, app_name: &str) -> String {
        match *self {
            Letter::Code { code, .. } => {
                lang.fill("email.subject", &[("code", &code), ("app_name", &app_name)])
            }
            Letter::LimitNotice { .. } => {
                lang.fill("email.limit_notice.subject", &[("app_name", &app_name)])
            }
            Letter::Invitation { .. } => {
                lang.fill("email.invitation.subject", &[("app_name", &app_name)])
            }
            Letter::AddressAdded { .. } => {
                lang.fill("email.address_added.subject", &[("app_name", &app_name)])
            }
            Letter::AddressRemoved { .. } => {
                lang.fill("email.address_removed.subject", &[("app_name", &app_name)])
            }
        }
    }

    fn context(&self, lang: Language, app_name: &str, base_url: &str) -> Value {
        let common = context! { lang => lang.code(), app_name, base_url };
        match *self {
            Letter::Code { code, minutes } => context! { code, minutes, ..common },
            Letter::LimitNotice { address } => context! { address, ..common },
            Letter::Invitation { address, hours } => {
                let login_url = format!("{}/login", base_url.trim_end_matches('/'));
                // Whole days once there are two or more; hours below that.
                let days = hours / 24;
                context! { address, hours, days, login_url, ..common }
            }
            Letter::AddressAdded { address, about } | Letter::AddressRemoved { address, about } => {
                context! { address, about, ..common }
            }
        }
    }

    /// One of each kind, to render every template once at start-up.
    fn samples() -> [Letter<'static>; 5] {
        [
            Letter::Invitation {
                address: "someone@example.com",
                hours: 168,
            },
            Letter::Code {
                code: "000000",
                minutes: 10,
            },
            Letter::LimitNotice {
                address: "someone@example.com",
            },
            Letter::AddressAdded {
                address: "someone@example.com",
                about: "someone@work.example",
            },
            Letter::AddressRemoved {
                address: "someone@example.com",
                about: "someone@work.example",
            },
        ]
    }
}

/// What the HTML emails extend: the page around a message, with its colours.
const LAYOUT: &str = "_layout.html";
const BUILTIN_LAYOUT: &str = include_str!("../../templates/email/_layout.html");

// `.html` templates escape what they insert; `.txt` ones do not.
fn text_file(kind: MailKind) -> String {
    format!("{}.txt", kind.as_str())
}

fn html_file(kind: MailKind) -> String {
    format!("{}.html", kind.as_str())
}

impl EmailTemplates {
    /// The compiled-in templates.
    pub fn builtin() -> Self {
        let languages = Language::all()
            .map(|lang| {
                let mut env = Environment::new();
                env.add_template(LAYOUT, BUILTIN_LAYOUT)
                    .unwrap_or_else(|e| panic!("built-in email layout: {e:#}"));
                for (name, source) in lang.email_sources() {
                    env.add_template_owned(*name, *source)
                        .unwrap_or_else(|e| panic!("built-in email {name} for {lang}: {e:#}"));
                }
                check(&env, lang)
                    .unwrap_or_else(|e| panic!("built-in email templates for {lang}: {e:#}"));
                (lang, env)
            })
            .collect();
        Self { languages }
    }

    /// For each language and kind, the pair in `dir/<lang>` when it has one, else
    /// the compiled-in one.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut templates = Self::builtin();
        let layout = dir.join(LAYOUT);
        let layout = match layout.exists() {
            true => Some(
                std::fs::read_to_string(&layout)
                    .with_context(|| format!("cannot read {}", layout.display()))?,
            ),
            false => None,
        };
        for (lang, env) in &mut templates.languages {
            let folder = dir.join(lang.code());
            let mut edited = false;
            if let Some(layout) = &layout {
                env.add_template_owned(LAYOUT, layout.clone())?;
                edited = true;
            }
            for kind in MailKind::ALL {
                if let Some((text, html)) = read_pair(&folder, kind)? {
                    env.add_template_owned(text_file(kind), text)?;
                    env.add_template_owned(html_file(kind), html)?;
                    edited = true;
                }
            }
            if edited {
                check(env, *lang).with_context(|| {
                    format!("bad email template in {} or its layout", folder.display())
                })?;
            }
        }
        let (text, html) = (text_file(MailKind::Code), html_file(MailKind::Code));
        if dir.join(&text).exists() || dir.join(&html).exists() {
            // Before there were languages the files sat directly in the folder.
            tracing::warn!(
                "{} holds {text}/{html} outside a language folder; they are not used. \
                 Move them to {}/en/ (and add de/ and others as you need)",
                dir.display(),
                dir.display()
            );
        }
        Ok(templates)
    }

    /// `letter` in `lang` (English if it has no templates).
    pub fn render(
        &self,
        lang: Language,
        letter: &Letter<'_>,
        app_name: &str,
        base_url: &str,
    ) -> anyhow::Result<RenderedEmail> {
        let (lang, env) = self
            .languages
            .iter()
            .find(|(l, _)| *l == lang)
            .or_else(|| {
                self.languages
                    .iter()
                    .find(|(l, _)| *l == Language::english())
            })
            .context("no email templates at all")?;
        let ctx = letter.context(*lang, app_name, base_url);
        let kind = letter.kind();
        Ok(RenderedEmail {
            subject: letter.subject(*lang, app_name),
            text: env.get_template(&text_file(kind))?.render(&ctx)?,
            html: env.get_template(&html_file(kind))?.render(&ctx)?,
        })
    }
}

/// Both files of a kind in a folder, `None` when it has neither; one without the
/// other is an error, so a half-finished edit is noticed at start-up.
fn read_pair(folder: &Path, kind: MailKind) -> anyhow::Result<Option<(String, String)>> {
    let (text_path, html_path) = (folder.join(text_file(kind)), folder.join(html_file(kind)));
    if !text_path.exists() && !html_path.exists() {
        return Ok(None);
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    Ok(Some((read(&text_path)?, read(&html_path)?)))
}

/// Renders every kind once, so that a broken or missing template stops start-up,
/// not a sign-in.
fn check(env: &Environment<'static>, lang: Language) -> anyhow::Result<()> {
    for letter in Letter::samples() {
        let ctx = letter.context(lang, "doorcode", "http://localhost");
        for file in [text_file(letter.kind()), html_file(letter.kind())] {
            env.get_template(&file)
                .and_then(|template| template.render(&ctx))
                .with_context(|| file.clone())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn german() -> Language {
        Language::find("de").unwrap()
    }

    fn code(code: &str) -> Letter<'_> {
        Letter::Code { code, minutes: 10 }
    }

    #[test]
    fn both_parts_carry_the_code_and_its_lifetime() {
        let email = EmailTemplates::builtin()
            .render(
                Language::english(),
                &code("042137"),
                "Acme <Login>",
                "https://login.acme.test",
            )
            .unwrap();
        assert_eq!(email.subject, "042137 is your Acme <Login> code");
        assert!(email.text.contains("042137") && email.text.contains("10 minutes"));
        assert!(email.text.contains("did not ask"));
        assert!(
            email.html.contains(">042137<"),
            "code must not be split by markup"
        );
        assert!(
            email.html.contains("Acme &lt;Login&gt;"),
            "HTML part escapes"
        );
        assert!(!email.html.contains("<img"), "no remote images");
    }

    #[test]
    fn every_language_has_its_own_email_and_subject() {
        let templates = EmailTemplates::builtin();
        let email = templates
            .render(german(), &code("042137"), "Acme", "https://login.acme.test")
            .unwrap();
        assert_eq!(email.subject, "042137 ist dein Acme-Code");
        assert!(email.text.contains("10 Minuten"), "{}", email.text);
        assert!(email.html.contains("lang=\"de\"") && email.html.contains(">042137<"));
        for lang in Language::all() {
            let email = templates
                .render(lang, &code("123456"), "Acme", "b")
                .unwrap();
            assert!(
                email.subject.starts_with("123456 "),
                "{lang}: {}",
                email.subject
            );
            assert!(
                email.text.contains("123456") && email.html.contains(">123456<"),
                "{lang}"
            );
        }
    }

    #[test]
    fn a_folder_without_templates_falls_back_to_the_builtin_ones() {
        let dir = tempfile::tempdir().unwrap();
        let en = Language::english();
        let templates = EmailTemplates::load(dir.path()).unwrap();
        assert!(templates.render(en, &code("1"), "a", "b").is_ok());
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(dir.path().join("de").join("code.txt"), "Code: {{ code }}").unwrap();
        assert!(
            EmailTemplates::load(dir.path()).is_err(),
            "the HTML part is missing"
        );
        std::fs::write(dir.path().join("de").join("code.html"), "<b>{{ code }}</b>").unwrap();
        let templates = EmailTemplates::load(dir.path()).unwrap();
        let email = templates
            .render(german(), &code("123456"), "a", "b")
            .unwrap();
        assert_eq!(email.text, "Code: 123456");
        assert_eq!(email.subject, "123456 ist dein a-Code");
        let english = templates.render(en, &code("123456"), "a", "b").unwrap();
        assert!(
            english.text.contains("sign-in code"),
            "English stays built in"
        );
    }

    #[test]
    fn the_limit_notice_names_the_address_and_carries_no_code_in_every_language() {
        let templates = EmailTemplates::builtin();
        let letter = Letter::LimitNotice {
            address: "o'neil@example.com",
        };
        for lang in Language::all() {
            let email = templates
                .render(lang, &letter, "Acme", "https://login.acme.test")
                .unwrap();
            assert!(email.subject.contains("Acme"), "{lang}: {}", email.subject);
            assert!(email.text.contains("o'neil@example.com"), "{lang}");
            assert!(
                email.html.contains("o&#x27;neil@example.com"),
                "{lang}: the HTML part escapes"
            );
            assert!(email.html.contains(&format!("lang=\"{}\"", lang.code())));
            assert!(!email.html.contains("{%"), "{lang}: the layout was applied");
        }
    }

    #[test]
    fn an_edited_layout_frames_every_html_email() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("_layout.html"),
            "<main lang=\"{{ lang }}\">{% block body %}{% endblock %}</main>",
        )
        .unwrap();
        let templates = EmailTemplates::load(dir.path()).unwrap();
        let english = Language::english();
        let email = templates
            .render(english, &code("123456"), "a", "b")
            .unwrap();
        assert!(email.html.starts_with("<main lang=\"en\">") && email.html.contains(">123456<"));
        let german = templates
            .render(german(), &code("123456"), "a", "b")
            .unwrap();
        assert!(german.html.starts_with("<main lang=\"de\">"));
        let notice = Letter::LimitNotice {
            address: "x@example.com",
        };
        let email = templates.render(english, &notice, "a", "b").unwrap();
        assert!(email.html.starts_with("<main"), "{}", email.html);
        std::fs::write(dir.path().join("_layout.html"), "{% block body %}").unwrap();
        assert!(
            EmailTemplates::load(dir.path()).is_err(),
            "a broken layout stops start-up"
        );
    }

    #[test]
    fn an_invitation_says_how_long_it_works_and_where_to_sign_in() {
        let templates = EmailTemplates::builtin();
        let english = Language::english();
        let invitation = |hours| Letter::Invitation {
            address: "ada@example.com",
            hours,
        };
        let week = templates
            .render(
                english,
                &invitation(168),
                "Acme",
                "https://login.acme.test/",
            )
            .unwrap();
        assert_eq!(week.subject, "You are invited to Acme");
        assert!(week.text.contains("works for 7 days"), "{}", week.text);
        assert!(week.text.contains("https://login.acme.test/login"));
        // minijinja escapes `/` in HTML as `&#x2f;`, which the href reads as `/`.
        let href = week
            .html
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(href.replace("&#x2f;", "/"), "https://login.acme.test/login");
        let short = templates
            .render(english, &invitation(5), "Acme", "https://login.acme.test")
            .unwrap();
        assert!(short.text.contains("works for 5 hours"), "{}", short.text);
        let german = templates
            .render(german(), &invitation(1), "Acme", "https://login.acme.test")
            .unwrap();
        assert!(
            german.text.contains("gilt 1 Stunde lang"),
            "{}",
            german.text
        );
    }
}
