//! `{VAR}` templates, URLs built from them, and the auth forms.

use crate::ir::{Auth, Part, Template};

/// Splits `source` into literal runs and `{VAR}` placeholders.
///
/// # Errors
/// A message for an unbalanced `{` or `}`, an empty `{}`, or a placeholder that is not an
/// environment variable name.
pub(crate) fn parse_template(source: &str) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = source.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    match c {
                        '}' => {
                            closed = true;
                            break;
                        }
                        '{' => break,
                        c => name.push(c),
                    }
                }
                if !closed {
                    return Err(format!(
                        "unbalanced `{{` at byte {at}: close the placeholder, like `{{API_KEY}}`"
                    ));
                }
                if name.is_empty() {
                    return Err(
                        "empty `{}` placeholder: name the environment variable, like `{API_KEY}`"
                            .to_owned(),
                    );
                }
                if !is_env_name(&name) {
                    return Err(format!(
                        "`{{{name}}}` is not an environment variable name: use letters, digits and `_`, not starting with a digit"
                    ));
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Var(name));
            }
            '}' => {
                return Err(format!(
                    "unbalanced `}}` at byte {at}: placeholders look like `{{API_KEY}}`"
                ));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(Template {
        source: source.to_owned(),
        parts,
    })
}

/// Whether `name` can name an environment variable: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a target URL template and checks that it is an absolute http(s) URL.
///
/// A template that starts with a placeholder (`{API_BASE}/v1/charges`) has its scheme and host
/// checked at send time instead, once the variable is known.
pub(crate) fn parse_url(source: &str) -> Result<Template, String> {
    let template = parse_template(source)?;
    if matches!(template.parts.first(), Some(Part::Var(_))) {
        return Ok(template);
    }
    // Placeholders may stand anywhere (host, path, query): try a value valid in each.
    let probe: String = template
        .parts
        .iter()
        .map(|p| match p {
            Part::Literal(l) => l.as_str(),
            Part::Var(_) => "placeholder",
        })
        .collect();
    let url = url::Url::parse(&probe).map_err(|e| {
        format!("`{source}` is not a valid URL ({e}): write an absolute URL like `https://api.example.com/v1/send`")
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "unsupported URL scheme `{other}`: a target URL must use `https` (or `http` for local services)"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{source}` has no host"));
    }
    if url.fragment().is_some() {
        return Err(format!(
            "`{source}` has a `#fragment`, which is never sent to a server: remove it"
        ));
    }
    Ok(template)
}

/// Parses an `auth` value: `Bearer {VAR}`, `Basic {USER}:{PASS}`, `Header-Name: {VAR}`, or `""`.
///
/// Credentials must come from the environment: a value without a placeholder is refused, so no
/// secret is ever written into a model (or the binary built from it).
pub(crate) fn parse_auth(source: &str) -> Result<Auth, String> {
    if source.is_empty() {
        return Ok(Auth::None);
    }
    let (auth, template) = if let Some(rest) = source.strip_prefix("Bearer ") {
        let t = parse_template(rest.trim())?;
        (Auth::Bearer(t.clone()), t)
    } else if let Some(rest) = source.strip_prefix("Basic ") {
        let t = parse_template(rest.trim())?;
        (Auth::Basic(t.clone()), t)
    } else if let Some((name, value)) = source.split_once(':').filter(|(n, _)| is_header_name(n)) {
        if name.eq_ignore_ascii_case("authorization") {
            return Err(
                "write `Bearer {VAR}` or `Basic {VAR}` instead of an `Authorization:` header"
                    .to_owned(),
            );
        }
        let t = parse_template(value.trim())?;
        (
            Auth::Header {
                name: name.to_owned(),
                value: t.clone(),
            },
            t,
        )
    } else {
        let scheme = source.split_whitespace().next().unwrap_or(source);
        return Err(format!(
            "unknown auth scheme `{scheme}`: expected `Bearer {{VAR}}`, `Basic {{VAR}}` or a header form `Header-Name: {{VAR}}`{}",
            crate::suggest::did_you_mean(scheme, &["Bearer", "Basic"])
        ));
    };
    if template.vars().is_empty() {
        // The message quotes no part of the value: it may be a real secret.
        return Err(
            "`auth` holds a literal credential: read it from the environment instead, like `Bearer {API_KEY}`, and rotate the one written here"
                .to_owned(),
        );
    }
    Ok(auth)
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Literal(s.to_owned())
    }
    fn var(s: &str) -> Part {
        Part::Var(s.to_owned())
    }

    #[test]
    fn splits_placeholders_from_literals() {
        let t = parse_url("https://api.mailgun.net/v3/{MAILGUN_DOMAIN}/messages").unwrap();
        assert_eq!(
            t.parts,
            [
                lit("https://api.mailgun.net/v3/"),
                var("MAILGUN_DOMAIN"),
                lit("/messages")
            ]
        );
        assert_eq!(t.vars(), ["MAILGUN_DOMAIN"]);
    }

    #[test]
    fn rejects_malformed_placeholders() {
        assert!(
            parse_template("a{B")
                .unwrap_err()
                .contains("unbalanced `{`")
        );
        assert!(
            parse_template("a}B")
                .unwrap_err()
                .contains("unbalanced `}`")
        );
        assert!(parse_template("a{}").unwrap_err().contains("empty `{}`"));
        assert!(
            parse_template("{A{B}}")
                .unwrap_err()
                .contains("unbalanced `{`")
        );
        assert!(
            parse_template("{1A}")
                .unwrap_err()
                .contains("not an environment variable")
        );
    }

    #[test]
    fn checks_urls() {
        assert!(
            parse_url("ftp://x.com/a")
                .unwrap_err()
                .contains("scheme `ftp`")
        );
        assert!(
            parse_url("not a url")
                .unwrap_err()
                .contains("not a valid URL")
        );
        assert!(parse_url("https://{HOST}/a").is_ok());
        assert!(parse_url("{BASE}/v1/charges").is_ok());
        assert!(parse_url("http://localhost:4040/test-webhook").is_ok());
        assert!(
            parse_url("https://x.com/a#frag")
                .unwrap_err()
                .contains("fragment")
        );
    }

    #[test]
    fn parses_every_documented_auth_form() {
        assert!(matches!(parse_auth("Bearer {K}"), Ok(Auth::Bearer(t)) if t.vars() == ["K"]));
        assert!(
            matches!(parse_auth("Basic api:{K}"), Ok(Auth::Basic(t)) if t.parts == [lit("api:"), var("K")])
        );
        assert!(matches!(
            parse_auth("X-Postmark-Server-Token: {POSTMARK_TOKEN}"),
            Ok(Auth::Header { name, .. }) if name == "X-Postmark-Server-Token"
        ));
        assert_eq!(parse_auth(""), Ok(Auth::None));
        assert!(
            parse_auth("Bearer sk_live_123")
                .unwrap_err()
                .contains("literal credential")
        );
        assert!(
            !parse_auth("Bearer sk_live_123")
                .unwrap_err()
                .contains("sk_live")
        );
        assert!(
            parse_auth("Token {K}")
                .unwrap_err()
                .contains("unknown auth scheme `Token`")
        );
        assert!(
            parse_auth("Baerer {K}")
                .unwrap_err()
                .contains("did you mean `Bearer`")
        );
    }
}
