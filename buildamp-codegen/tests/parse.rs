//! The model compiler's library API, as the code generator uses it: every error at once, located.

use std::time::Duration;

use buildamp_codegen::ir::{Auth, Choice, RetryPolicy, UrlSource};
use buildamp_codegen::{models, parse};
use syn::parse_quote;

#[test]
fn three_mistakes_give_exactly_three_errors() {
    let input = parse_quote! {
        #[derive(BuildAmpWebhook)]
        #[target(url = "https://api.example.com/{}/notify", method = "SEND", timeout = "30")]
        struct Notify { message: String }
    };
    let errors: Vec<String> = parse(&input)
        .unwrap_err()
        .into_iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("empty `{}` placeholder"));
    assert!(errors[1].starts_with("unknown method `SEND`"));
    assert!(errors[2].starts_with("`30` has no unit"));
}

#[test]
fn a_valid_model_normalises_every_value() {
    let input = parse_quote! {
        #[target(
            url = if_env!("DEVELOPMENT", "http://localhost:4040/x", "https://{HOST}/x"),
            auth = "Basic {USER}:{PASS}",
            backoff = ["4s", "8s", "10s"],
            max_attempts = 4,
        )]
        struct Notify { message: String }
    };
    let webhook = parse(&input).unwrap();
    assert_eq!(webhook.name, "Notify");
    let Choice::IfEnv {
        var,
        otherwise: UrlSource::Template(prod),
        ..
    } = &webhook.target.url
    else {
        panic!("{:?}", webhook.target.url)
    };
    assert_eq!((var.as_str(), prod.vars()), ("DEVELOPMENT", vec!["HOST"]));
    assert!(
        matches!(&webhook.target.auth, Choice::Fixed(Auth::Basic(t)) if t.vars() == ["USER", "PASS"])
    );
    assert_eq!(
        webhook.target.retry,
        RetryPolicy::Schedule(vec![
            Duration::from_secs(4),
            Duration::from_secs(8),
            Duration::from_secs(10)
        ])
    );
    assert_eq!(webhook.target.max_attempts, Some(4));
}

#[test]
fn reading_a_model_file_locates_each_problem() {
    let dir = std::env::temp_dir().join(format!("buildamp-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken_webhooks.rs"),
        r#"use buildamp::BuildAmpWebhook;

#[derive(BuildAmpWebhook)]
#[target(url = "https://ok.example.com/a")]
pub struct Good { pub a: String }

#[derive(Serialize, BuildAmpWebhook)]
#[target(
    url = "ftp://bad.example.com",
    retry_policy = "sometimes",
)]
pub struct Bad { pub a: String }
"#,
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a model").unwrap();
    let err = models::read_dir(&dir).unwrap_err();
    let lines: Vec<(usize, usize)> = err.problems.iter().map(|p| (p.line, p.column)).collect();
    assert_eq!(lines, [(9, 11), (10, 20)], "{err}");
    let report = err.to_string();
    assert!(
        report.contains("broken_webhooks.rs:9:11: unsupported URL scheme `ftp`"),
        "{report}"
    );
    std::fs::remove_file(dir.join("broken_webhooks.rs")).unwrap();
    std::fs::write(dir.join("good_webhooks.rs"), "#[derive(buildamp::BuildAmpWebhook)]\n#[target(url = \"https://ok.example.com\")]\npub struct Good { pub a: String }\n").unwrap();
    let found = models::read_dir(&dir).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].webhook.name, "Good");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_syntax_error_in_a_model_file_is_reported_with_its_place() {
    let dir = std::env::temp_dir().join(format!("buildamp-codegen-syntax-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.rs"), "pub struct {").unwrap();
    let err = models::read_dir(&dir).unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].line, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
