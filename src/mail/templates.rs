//! The code email, rendered from `templates/email/code.txt` and `code.html`.
//!
//! The files are compiled in as defaults; when a `templates/email` folder exists in
//! the working directory its files are used instead, so operators can edit them
//! without rebuilding. Both are read once at start-up.

use std::path::Path;

use anyhow::Context;
use minijinja::{Environment, context};

const TEXT: &str = "code.txt";
const HTML: &str = "code.html";

pub struct EmailTemplates {
    env: Environment<'static>,
}

pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl EmailTemplates {
    /// The compiled-in templates.
    pub fn builtin() -> Self {
        Self::from_sources(
            include_str!("../../templates/email/code.txt").to_owned(),
            include_str!("../../templates/email/code.html").to_owned(),
        )
        .expect("built-in email templates are valid")
    }

    /// The templates in `dir` when it has them, else the compiled-in ones.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let (text_path, html_path) = (dir.join(TEXT), dir.join(HTML));
        if !text_path.exists() && !html_path.exists() {
            return Ok(Self::builtin());
        }
        let read = |path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        };
        Self::from_sources(read(&text_path)?, read(&html_path)?)
            .with_context(|| format!("bad email template in {}", dir.display()))
    }

    fn from_sources(text: String, html: String) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        // `.html` templates escape what they insert; `.txt` ones do not.
        env.add_template_owned(TEXT, text)?;
        env.add_template_owned(HTML, html)?;
        let templates = Self { env };
        templates.render("000000", "doorcode", "http://localhost", 10)?;
        Ok(templates)
    }

    pub fn render(
        &self,
        code: &str,
        app_name: &str,
        base_url: &str,
        minutes: u64,
    ) -> anyhow::Result<RenderedEmail> {
        let ctx = context! { code, app_name, base_url, minutes };
        Ok(RenderedEmail {
            subject: format!("{code} is your {app_name} code"),
            text: self.env.get_template(TEXT)?.render(&ctx)?,
            html: self.env.get_template(HTML)?.render(&ctx)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_carry_the_code_and_its_lifetime() {
        let email = EmailTemplates::builtin()
            .render("042137", "Acme <Login>", "https://login.acme.test", 10)
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
    fn a_folder_without_templates_falls_back_to_the_builtin_ones() {
        let dir = tempfile::tempdir().unwrap();
        let templates = EmailTemplates::load(dir.path()).unwrap();
        assert!(templates.render("1", "a", "b", 1).is_ok());
        std::fs::write(dir.path().join(TEXT), "Code: {{ code }}").unwrap();
        assert!(
            EmailTemplates::load(dir.path()).is_err(),
            "the HTML part is missing"
        );
        std::fs::write(dir.path().join(HTML), "<b>{{ code }}</b>").unwrap();
        let email = EmailTemplates::load(dir.path())
            .unwrap()
            .render("123456", "a", "b", 1)
            .unwrap();
        assert_eq!(email.text, "Code: 123456");
    }
}
