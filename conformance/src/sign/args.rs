//! The flags of `conformance sign …` (INTERFACES.md §2). Secrets are parsed straight into `protocol::Secret`, so
//! `Debug` of these structs never shows them.

use clap::{Args, Subcommand};
use protocol::Secret;

#[derive(Debug, Args)]
#[command(after_long_help = crate::cli::TWO_SECRETS)]
pub struct SignArgs {
    #[command(subcommand)]
    pub command: SignCommand,
}

#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// Print the notification sign of FILE: MD5 of GBK(notify key + sorted name/value pairs), empty values and
    /// `sign` left out (PROTOCOL §3.3).
    Notify(NotifyArgs),
    /// Print the TOP call sign of FILE with the app secret; the scheme comes from the `sign_method` param
    /// (md5 when absent) and empty values are left out (PROTOCOL §4.4).
    Top(TopArgs),
    /// Check the `sign` param of FILE; exit 0 on a match, 1 on a mismatch (with a diagnosis), 2 on bad input.
    #[command(subcommand)]
    Verify(VerifyCommand),
}

#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Check a notification's sign with the notify key.
    Notify(VerifyNotifyArgs),
    /// Check a TOP call's sign with the app secret.
    Top(VerifyTopArgs),
}

/// `--params FILE`: a JSON object of string to string; `-` reads it from stdin.
#[derive(Debug, Args)]
pub struct ParamsArg {
    /// A JSON object of param name to value (e.g. {"method":"send","order_id":"1"}); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub params: String,
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// The notify key (通知密钥) from the e-voucher platform, NOT the TOP app secret.
    #[arg(long, value_name = "KEY", env = "CONFORMANCE_NOTIFY_KEY", hide_env_values = true, value_parser = secret)]
    pub key: Secret,
    #[command(flatten)]
    pub params: ParamsArg,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The TOP application's app secret, NOT the notify key.
    #[arg(long, value_name = "SECRET", env = "CONFORMANCE_APP_SECRET", hide_env_values = true, value_parser = secret)]
    pub secret: Secret,
    #[command(flatten)]
    pub params: ParamsArg,
}

#[derive(Debug, Args)]
pub struct VerifyNotifyArgs {
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// The TOP app secret, to tell whether the notification was checked with it by mistake (FAQ 2.29).
    #[arg(long, value_name = "S", value_parser = secret)]
    pub other_secret: Option<Secret>,
}

#[derive(Debug, Args)]
pub struct VerifyTopArgs {
    #[command(flatten)]
    pub top: TopArgs,
    /// The notify key, to tell whether the call was signed with it by mistake (FAQ 2.29).
    #[arg(long, value_name = "S", value_parser = secret)]
    pub other_secret: Option<Secret>,
}

fn secret(value: &str) -> Result<Secret, String> {
    if value.is_empty() { Err("a secret cannot be empty".into()) } else { Ok(Secret::new(value)) }
}
