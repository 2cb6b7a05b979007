use std::collections::HashMap;
use std::path::Path;

use toml::{Table, Value};

use super::Config;

/// One line naming the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Reads the file at `path` (absent and not `required` ⇒ built-in defaults), lays
/// `env`'s `DOORCODE_<SECTION>_<KEY>` values over it and checks the result.
pub fn load_config(
    path: &Path,
    required: bool,
    env: &HashMap<String, String>,
) -> Result<Config, ConfigError> {
    let defaults = Table::try_from(Config::default())
        .map_err(|e| ConfigError::new(format!("built-in defaults do not serialise: {e}")))?;

    let mut merged = defaults.clone();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let file: Table = text.parse().map_err(|e: toml::de::Error| {
                ConfigError::new(format!(
                    "config file {}: {}",
                    path.display(),
                    e.message().trim()
                ))
            })?;
            overlay_file(&mut merged, &defaults, file, path)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
        Err(e) => {
            return Err(ConfigError::new(format!(
                "config file {}: {e}",
                path.display()
            )));
        }
    }
    let from_env = overlay_env(&mut merged, &defaults, env)?;

    let config: Config = serde_path_to_error::deserialize(Value::Table(merged)).map_err(|e| {
        let key = e.path().to_string();
        let origin = from_env
            .get(&key)
            .map(|var| format!(" (from {var})"))
            .unwrap_or_default();
        ConfigError::new(format!("{key}{origin}: {}", e.inner().message()))
    })?;
    // Parsing into settings checks everything a type alone cannot.
    super::Settings::parse(&config)?;
    Ok(config)
}

/// The keys of the file at `path` that hold a secret (a password in a URL, a
/// secret key), by name; empty when the file cannot be read.
pub fn secrets_in_file(path: &Path) -> Vec<&'static str> {
    let Ok(file) = std::fs::read_to_string(path).map(|text| text.parse::<Table>()) else {
        return Vec::new();
    };
    let Ok(file) = file else {
        return Vec::new();
    };
    let value = |section: &str, key: &str| {
        file.get(section)
            .and_then(|s| s.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut held = Vec::new();
    for (section, key, name) in [
        ("email", "smtp_url", "email.smtp_url"),
        ("database", "url", "database.url"),
    ] {
        // A URL holds a secret when it carries a password.
        if url::Url::parse(&value(section, key)).is_ok_and(|url| url.password().is_some()) {
            held.push(name);
        }
    }
    for (section, key, name) in [
        ("turnstile", "secret_key", "turnstile.secret_key"),
        ("hcaptcha", "secret_key", "hcaptcha.secret_key"),
        ("security", "secret_key", "security.secret_key"),
    ] {
        if !value(section, key).is_empty() {
            held.push(name);
        }
    }
    let client_secrets = file
        .get("oidc")
        .and_then(|oidc| oidc.get("clients"))
        .and_then(Value::as_array)
        .is_some_and(|clients| {
            clients.iter().any(|c| {
                c.get("secret")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            })
        });
    if client_secrets {
        held.push("oidc.clients secrets");
    }
    held
}

/// Copies the file's keys into `merged`, refusing keys and sections doorcode does
/// not know, so that a typo is an error rather than a silently ignored setting.
fn overlay_file(
    merged: &mut Table,
    defaults: &Table,
    file: Table,
    path: &Path,
) -> Result<(), ConfigError> {
    for (section, value) in file {
        let Some(Value::Table(known)) = defaults.get(&section) else {
            return Err(ConfigError::new(format!(
                "unknown section [{section}] in {}",
                path.display()
            )));
        };
        let Value::Table(keys) = value else {
            return Err(ConfigError::new(format!(
                "`{section}` in {} must be a [section]",
                path.display()
            )));
        };
        for (key, value) in keys {
            if !known.contains_key(&key) {
                return Err(ConfigError::new(format!(
                    "unknown key `{section}.{key}` in {}",
                    path.display()
                )));
            }
            if let Some(Value::Table(target)) = merged.get_mut(&section) {
                target.insert(key, value);
            }
        }
    }
    Ok(())
}

/// Applies `DOORCODE_<SECTION>_<KEY>` overrides, typed after the default's type.
/// Returns which keys came from which variable, for error messages.
fn overlay_env(
    merged: &mut Table,
    defaults: &Table,
    env: &HashMap<String, String>,
) -> Result<HashMap<String, String>, ConfigError> {
    let mut from_env = HashMap::new();
    for (section, keys) in defaults {
        let Value::Table(keys) = keys else { continue };
        for (key, default) in keys {
            let var = format!("DOORCODE_{section}_{key}").to_uppercase();
            let Some(raw) = env.get(&var) else { continue };
            let name = format!("{section}.{key}");
            let value = env_value(default, raw)
                .map_err(|what| ConfigError::new(format!("{name} (from {var}): {what}")))?;
            if let Some(Value::Table(target)) = merged.get_mut(section) {
                target.insert(key.clone(), value);
            }
            from_env.insert(name, var);
        }
    }
    Ok(from_env)
}

fn env_value(default: &Value, raw: &str) -> Result<Value, String> {
    let raw_trimmed = raw.trim();
    match default {
        Value::Integer(_) => raw_trimmed
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| format!("expected a whole number, got `{raw}`")),
        Value::Boolean(_) => match raw_trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err(format!("expected true or false, got `{raw}`")),
        },
        Value::Array(_) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        )),
        _ => Ok(Value::String(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_with(file: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(file.as_bytes()).unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load_config(f.path(), true, &env)
    }

    #[test]
    fn the_checked_in_config_file_loads_and_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/doorcode.toml");
        let loaded = load_config(&path, true, &HashMap::new()).unwrap();
        let defaults = Config::default();
        assert_eq!(
            Table::try_from(loaded).unwrap(),
            Table::try_from(defaults).unwrap()
        );
    }

    #[test]
    fn the_checked_in_config_file_names_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/doorcode.toml");
        let file: Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let defaults = Table::try_from(Config::default()).unwrap();
        for (section, keys) in &defaults {
            for key in keys.as_table().unwrap().keys() {
                assert!(
                    file.get(section).and_then(|s| s.get(key)).is_some(),
                    "config/doorcode.toml lacks {section}.{key}"
                );
            }
        }
    }

    #[test]
    fn environment_variables_override_the_file() {
        let config = load_with(
            "[code]\nttl_secs = 300\n",
            &[
                ("DOORCODE_CODE_TTL_SECS", "120"),
                ("DOORCODE_SERVER_TRUST_PROXY_HEADERS", "true"),
                (
                    "DOORCODE_SERVER_ALLOWED_REDIRECT_HOSTS",
                    "a.example, b.example",
                ),
                ("DOORCODE_SIGNUP_ASK_NAME", "after_code"),
                ("DOORCODE_SERVER_DEFAULT_LANGUAGE", "de"),
                (
                    "DOORCODE_SERVER_LOGO_URL",
                    "https://cdn.example.com/logo.svg",
                ),
            ],
        )
        .unwrap();
        assert_eq!(config.server.default_language().code(), "de");
        assert_eq!(
            config.server.logo(),
            Some("https://cdn.example.com/logo.svg")
        );
        assert_eq!(config.code.ttl_secs.get(), 120);
        assert!(config.server.trust_proxy_headers);
        assert_eq!(
            config.server.allowed_redirect_hosts,
            vec!["a.example", "b.example"]
        );
        assert_eq!(config.signup.ask_name, super::super::AskName::AfterCode);
    }

    /// A config file, environment overrides, and what the error must name.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let cases: &[Case] = &[
            ("[code]\nttl_secs = 0\n", &[], "code.ttl_secs"),
            (
                "",
                &[("DOORCODE_CODE_TTL_SECS", "0")],
                "DOORCODE_CODE_TTL_SECS",
            ),
            ("", &[("DOORCODE_CODE_TTL_SECS", "ten")], "code.ttl_secs"),
            ("[server]\nlisten = \"nope\"\n", &[], "server.listen"),
            ("[server]\nbogus = 1\n", &[], "server.bogus"),
            ("[bogus]\nx = 1\n", &[], "[bogus]"),
            (
                "[[oidc.clients]]\nid = \"a b\"\nname = \"A\"\nredirect_uris = [\"https://a.example/cb\"]\n",
                &[],
                "oidc.clients[0].id",
            ),
            (
                "[[oidc.clients]]\nid = \"a\"\nname = \"A\"\nredirect_uris = [\"http://a.example/cb\"]\n",
                &[],
                "oidc.clients[0].redirect_uris",
            ),
            (
                "[[oidc.clients]]\nid = \"a\"\nname = \"A\"\nsecret = \"short\"\nredirect_uris = [\"https://a.example/cb\"]\n",
                &[],
                "oidc.clients[0].secret",
            ),
            (
                "[[oidc.clients]]\nid = \"a\"\nname = \"A\"\n",
                &[],
                "oidc.clients[0].redirect_uris",
            ),
            (
                "[[oidc.clients]]\nid = \"a\"\nname = \"A\"\nredirect_uris = [\"https://a.example/cb\"]\nallowed_groups = [\"Admins\"]\n",
                &[],
                "oidc.clients[0].allowed_groups",
            ),
            (
                "[[oidc.clients]]\nid = \"a\"\nname = \"A\"\nredirect_uris = [\"https://a.example/cb\"]\n[[oidc.clients]]\nid = \"a\"\nname = \"B\"\nredirect_uris = [\"https://a.example/cb\"]\n",
                &[],
                "oidc.clients[1].id",
            ),
            ("[[oidc.clients]]\nid = \"a\"\nbogus = 1\n", &[], "bogus"),
            (
                "[server]\nbase_url = \"localhost\"\n",
                &[],
                "server.base_url",
            ),
            (
                "[turnstile]\nsite_key = \"x\"\n",
                &[],
                "turnstile.secret_key",
            ),
            (
                "[turnstile]\nsecret_key = \"x\"\n",
                &[],
                "turnstile.site_key",
            ),
            (
                "[captcha]\nprovider = \"recaptcha\"\n",
                &[],
                "captcha.provider",
            ),
            (
                "[captcha]\nprovider = \"hcaptcha\"\n",
                &[],
                "hcaptcha.site_key",
            ),
            (
                "[captcha]\nprovider = \"hcaptcha\"\n[hcaptcha]\nsite_key = \"x\"\n",
                &[],
                "hcaptcha.secret_key",
            ),
            (
                "",
                &[("DOORCODE_CAPTCHA_PROVIDER", "hcaptcha")],
                "hcaptcha.site_key",
            ),
            ("[altcha]\nmax_number = 0\n", &[], "altcha.max_number"),
            (
                "[hcaptcha]\nsite_key = \"x\"\nsecret_key = \"y\"\n",
                &[],
                "captcha.provider",
            ),
            (
                "[captcha]\nprovider = \"altcha\"\n[altcha]\nmax_number = 10\n",
                &[],
                "altcha.max_number",
            ),
            (
                "[captcha]\nprovider = \"altcha\"\n[altcha]\nexpires_secs = 100000\n",
                &[],
                "altcha.expires_secs",
            ),
            ("[email]\nsmtp_url = \"http://x\"\n", &[], "email.smtp_url"),
            ("[email]\nfrom = \"not an address\"\n", &[], "email.from"),
            (
                "[security]\nsecret_key = \"abcd\"\n",
                &[],
                "security.secret_key",
            ),
            ("[signup]\nask_name = \"never\"\n", &[], "signup.ask_name"),
            ("[signup]\nmode = \"friends\"\n", &[], "signup.mode"),
            (
                "[signup]\nmode = \"domains\"\n",
                &[],
                "signup.allowed_domains",
            ),
            (
                "[signup]\nmode = \"domains\"\nallowed_domains = [\"not a domain\"]\n",
                &[],
                "signup.allowed_domains",
            ),
            (
                "",
                &[("DOORCODE_SESSION_COOKIE_DOMAIN", "other.test")],
                "session.cookie_domain",
            ),
            (
                "",
                &[("DOORCODE_SESSION_COOKIE_DOMAIN", "_bad_")],
                "session.cookie_domain",
            ),
            ("[database]\nurl = \"mysql://x/y\"\n", &[], "database.url"),
            (
                "[database]\nurl = \"postgres://x/y\"\n",
                &[],
                "security.secret_key",
            ),
            (
                "[server]\ndefault_language = \"xx\"\n",
                &[],
                "server.default_language",
            ),
            (
                "",
                &[("DOORCODE_SERVER_DEFAULT_LANGUAGE", "fr")],
                "server.default_language",
            ),
            (
                "[server]\nlogo_url = \"http://cdn.example.com/logo.png\"\n",
                &[],
                "server.logo_url",
            ),
            (
                "",
                &[("DOORCODE_SERVER_LOGO_URL", "//evil.example/logo.png")],
                "server.logo_url",
            ),
            (
                "[server]\nlogo_url = \"javascript:alert(1)\"\n",
                &[],
                "server.logo_url",
            ),
            (
                "[server]\nlogo_url = \"logo.png\"\n",
                &[],
                "server.logo_url",
            ),
            ("[code]\nmax_attempts = -1\n", &[], "code.max_attempts"),
            ("not toml at all [", &[], "config file"),
        ];
        for (file, env, expected) in cases {
            let err = load_with(file, env).expect_err(&format!("{file:?} {env:?} should fail"));
            let line = err.to_string();
            assert!(
                line.contains(expected),
                "case {file:?} {env:?}: `{line}` does not name {expected}"
            );
            assert!(!line.contains('\n'), "case {file:?}: more than one line");
        }
    }

    #[test]
    fn client_secrets_in_the_file_count_as_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doorcode.toml");
        std::fs::write(
            &path,
            "[[oidc.clients]]\nid = \"a\"\nname = \"A\"\nredirect_uris = [\"https://a.example/cb\"]\n",
        )
        .unwrap();
        assert!(
            secrets_in_file(&path).is_empty(),
            "a public client holds no secret"
        );
        std::fs::write(
            &path,
            "[[oidc.clients]]\nid = \"a\"\nname = \"A\"\nsecret = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(secrets_in_file(&path), vec!["oidc.clients secrets"]);
    }
}
