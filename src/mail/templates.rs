//! The code email, rendered from `templates/email/<lang>/code.txt` and `code.html`,
//! one pair per language, with the subject from that language's catalogue.
//!
//! The files are compiled in as defaults; when a `templates/email/<lang>` folder
//! exists in the working directory its files are used instead for that language, so
//! operators can edit them without rebuilding. All are read once at start-up.

use std::path::Path;

use anyhow::Context;
use minijinja::{Environment, context};

use crate::i18n::Language;

const TEXT: &str = "code.txt";
const HTML: &str = "code.html";

pub struct EmailTemplates {
    /// One per built-in language, in `Language::all()` order.
    languages: Vec<(Language, Environment<'static>)>,
}

pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl EmailTemplates {
    /// The compiled-in templates.
    pub fn builtin() -> Self {
        let languages = Language::all()
            .map(|lang| {
                let (text, html) = lang.email_sources();
                let env = environment(text.to_owned(), html.to_owned())
                    .unwrap_or_else(|e| panic!("built-in email templates for {lang}: {e:#}"));
                (lang, env)
            })
            .collect();
        Self { languages }
    }

    /// For each language, the templates in `dir/<lang>` when it has them, else the
    /// compiled-in ones.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut templates = Self::builtin();
        for (lang, env) in &mut templates.languages {
            let folder = dir.join(lang.code());
            if let Some((text, html)) = read_pair(&folder)? {
                *env = environment(text, html)
                    .with_context(|| format!("bad email template in {}", folder.display()))?;
            }
        }
        if dir.join(TEXT).exists() || dir.join(HTML).exists() {
            // Before there were languages the files sat directly in the folder.
            tracing::warn!(
                "{} holds {TEXT}/{HTML} outside a language folder; they are not used. \
                 Move them to {}/en/ (and add de/ and others as you need)",
                dir.display(),
                dir.display()
            );
        }
        Ok(templates)
    }

    /// The code email in `lang` (English if it has no templates).
    pub fn render(
        &self,
        lang: Language,
        code: &str,
        app_name: &str,
        base_url: &str,
        minutes: u64,
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
        let ctx = context! { code, app_name, base_url, minutes };
        Ok(RenderedEmail {
            subject: lang.fill("email.subject", &[("code", &code), ("app_name", &app_name)]),
            text: env.get_template(TEXT)?.render(&ctx)?,
            html: env.get_template(HTML)?.render(&ctx)?,
        })
    }
}

/// Both files of a folder, `None` when it has neither; one without the other is an
/// error, so a half-finished edit is noticed at start-up.
fn read_pair(folder: &Path) -> anyhow::Result<Option<(String, String)>> {
    let (text_path, html_path) = (folder.join(TEXT), folder.join(HTML));
    if !text_path.exists() && !html_path.exists() {
        return Ok(None);
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    Ok(Some((read(&text_path)?, read(&html_path)?)))
}

fn environment(text: String, html: String) -> anyhow::Result<Environment<'static>> {
    let mut env = Environment::new();
    // `.html` templates escape what they insert; `.txt` ones do not.
    env.add_template_owned(TEXT, text)?;
    env.add_template_owned(HTML, html)?;
    // Rendered once here so that a broken template stops start-up, not a sign-in.
    let ctx = context! { code => "000000", app_name => "doorcode", base_url => "http://localhost", minutes => 10 };
    env.get_template(TEXT)?.render(&ctx).context(TEXT)?;
    env.get_template(HTML)?.render(&ctx).context(HTML)?;
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn german() -> Language {
        Language::find("de").unwrap()
    }

    #[test]
    fn both_parts_carry_the_code_and_its_lifetime() {
        let email = EmailTemplates::builtin()
            .render(
                Language::english(),
                "042137",
                "Acme <Login>",
                "https://login.acme.test",
                10,
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
            .render(german(), "042137", "Acme", "https://login.acme.test", 10)
            .unwrap();
        assert_eq!(email.subject, "042137 ist dein Acme-Code");
        assert!(email.text.contains("10 Minuten"), "{}", email.text);
        assert!(email.html.contains("lang=\"de\"") && email.html.contains(">042137<"));
        for lang in Language::all() {
            let email = templates.render(lang, "123456", "Acme", "b", 10).unwrap();
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
        assert!(templates.render(en, "1", "a", "b", 1).is_ok());
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(dir.path().join("de").join(TEXT), "Code: {{ code }}").unwrap();
        assert!(
            EmailTemplates::load(dir.path()).is_err(),
            "the HTML part is missing"
        );
        std::fs::write(dir.path().join("de").join(HTML), "<b>{{ code }}</b>").unwrap();
        let templates = EmailTemplates::load(dir.path()).unwrap();
        let email = templates.render(german(), "123456", "a", "b", 1).unwrap();
        assert_eq!(email.text, "Code: 123456");
        assert_eq!(email.subject, "123456 ist dein a-Code");
        let english = templates.render(en, "123456", "a", "b", 1).unwrap();
        assert!(
            english.text.contains("sign-in code"),
            "English stays built in"
        );
    }
}
