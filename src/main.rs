//! The `buildamp` command: [`buildamp::cli`].

fn main() -> std::process::ExitCode {
    buildamp::cli::main()
}
