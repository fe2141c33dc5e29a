//! Command-line flags and the validated [`Config`] they become before anything runs.
//!
//! Every flag can also come from a `MERCHANT_*` environment variable, so secrets need not appear in a
//! process list. The two secrets are easy to confuse (FAQ 2.29), so `--help` says which is which, and
//! [`Config::validate`] refuses the same value for both.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use protocol::{Secret, SignMethod};

/// The merchant's settings, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The full TOP gateway URL, e.g. `http://gw.api.taobao.com/router/rest` (FAQ 2.4).
    pub gateway: String,
    /// The TOP app's key, sent as `app_key` on every callback.
    pub app_key: String,
    /// The TOP app's secret: signs our calls to the gateway (PROTOCOL §4.4). Never the notify key.
    pub app_secret: Secret,
    /// The session key (`top_session`, FAQ 2.5) of the merchant's account; valid a year (FAQ 2.6).
    /// Held as a [`Secret`] because it authorises calls in the merchant's name.
    pub session: Secret,
    /// The notify key (通知密钥) issued at onboarding: verifies notifications (PROTOCOL §3.3).
    pub notify_key: Secret,
    /// Set for a 码商 (code merchant): sent as `codemerchant_id` on every call (PROTOCOL §1.1).
    pub codemerchant_id: Option<i64>,
    /// The SQLite file. `:memory:` works (one connection) but forgets everything at exit: demos only.
    pub db: PathBuf,
    /// The TOP sign scheme for our calls.
    pub sign_method: SignMethod,
    /// How long a connection may sit idle, take to send a request's head, or take to send its body; then it is
    /// closed, so idle or slow clients cannot hold the file handles notifications need (`connections.rs`).
    pub connection_timeout: Duration,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("--gateway must be an http:// or https:// URL, got {0:?}")]
    Gateway(String),
    #[error("--{0} must not be empty")]
    Empty(&'static str),
    #[error(
        "--notify-key and --app-secret are the same; they are two different secrets (FAQ 2.29): the notify key \
         comes from the e-voucher platform, the app secret from the TOP app"
    )]
    SameSecret,
    #[error("unknown --sign-method {0:?}; use md5, hmac or hmac-sha256")]
    SignMethod(String),
}

impl Config {
    /// A configuration with the defaults for everything optional: `hmac` signs, `merchant.sqlite`.
    pub fn new(
        gateway: impl Into<String>,
        app_key: impl Into<String>,
        app_secret: Secret,
        session: Secret,
        notify_key: Secret,
    ) -> Self {
        Self {
            gateway: gateway.into(),
            app_key: app_key.into(),
            app_secret,
            session,
            notify_key,
            codemerchant_id: None,
            db: PathBuf::from("merchant.sqlite"),
            sign_method: SignMethod::HmacMd5,
            connection_timeout: Duration::from_secs(30),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.gateway.starts_with("http://") || self.gateway.starts_with("https://")) {
            return Err(ConfigError::Gateway(self.gateway.clone()));
        }
        for (name, value) in [
            ("app-key", self.app_key.as_str()),
            ("app-secret", self.app_secret.expose()),
            ("session", self.session.expose()),
            ("notify-key", self.notify_key.expose()),
        ] {
            if value.is_empty() {
                return Err(ConfigError::Empty(name));
            }
        }
        if self.app_secret == self.notify_key {
            return Err(ConfigError::SameSecret);
        }
        Ok(())
    }
}

/// `merchant-reference`: the reference merchant of the Taobao e-voucher platform.
#[derive(Debug, clap::Parser)]
#[command(name = "merchant-reference", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve POST /notify (notifications), POST /pos/consume and /pos/reverse (redemption), GET /healthz.
    Serve(ServeArgs),
}

/// The flags of `serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Two secrets, two jobs (FAQ 2.29):\n  \
    --notify-key  the 32-character secret the e-voucher platform gave you at onboarding (通知密钥).\n                \
    It VERIFIES the notifications Taobao sends you (MD5 over GBK, key in front only).\n  \
    --app-secret  the secret of your TOP app (开放平台应用 secret).\n                \
    It SIGNS the calls you make to the TOP gateway (eticket.send, resend, consume...).\n\
    Swapping them is the most common integration bug: notifications then fail with {\"code\":501}\n\
    and callbacks fail with 25 Invalid signature.")]
pub struct ServeArgs {
    /// Address to listen on; the notify URL to register is http://ADDR/notify.
    #[arg(long, env = "MERCHANT_LISTEN")]
    pub listen: SocketAddr,
    /// The TOP gateway URL, path included (the help text names the real one).
    #[arg(
        long,
        env = "MERCHANT_GATEWAY",
        help = "TOP gateway URL, path included (real: http://gw.api.taobao.com/router/rest)"
    )]
    pub gateway: String,
    /// TOP app key, sent on every callback.
    #[arg(long, env = "MERCHANT_APP_KEY")]
    pub app_key: String,
    /// TOP app secret: SIGNS our calls to the gateway. Not the notify key.
    #[arg(long, env = "MERCHANT_APP_SECRET", hide_env_values = true)]
    pub app_secret: String,
    /// Session key (top_session) of the merchant's account, sent on every callback.
    #[arg(long, env = "MERCHANT_SESSION", hide_env_values = true)]
    pub session: String,
    /// Notify key from e-voucher onboarding: VERIFIES incoming notifications. Not the app secret.
    #[arg(long, env = "MERCHANT_NOTIFY_KEY", hide_env_values = true)]
    pub notify_key: String,
    /// Code merchant (码商) id; set only if you are a code merchant.
    #[arg(long, env = "MERCHANT_CODEMERCHANT_ID")]
    pub codemerchant_id: Option<i64>,
    /// SQLite file holding orders, codes and owed callbacks (WAL mode). Use a temporary path for tests.
    #[arg(long, env = "MERCHANT_DB", default_value = "merchant.sqlite")]
    pub db: PathBuf,
    /// TOP sign scheme: md5, hmac (HMAC-MD5) or hmac-sha256.
    #[arg(long, env = "MERCHANT_SIGN_METHOD", default_value = "hmac")]
    pub sign_method: String,
}

impl ServeArgs {
    /// The address to bind and the validated configuration.
    pub fn into_config(self) -> Result<(SocketAddr, Config), ConfigError> {
        let sign_method =
            SignMethod::parse(&self.sign_method).map_err(|_| ConfigError::SignMethod(self.sign_method))?;
        let config = Config {
            gateway: self.gateway,
            app_key: self.app_key,
            app_secret: Secret::new(self.app_secret),
            session: Secret::new(self.session),
            notify_key: Secret::new(self.notify_key),
            codemerchant_id: self.codemerchant_id,
            db: self.db,
            sign_method,
            connection_timeout: Duration::from_secs(30),
        };
        config.validate()?;
        Ok((self.listen, config))
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    fn parse(notify_key: &str, extra: &[&str]) -> Result<(SocketAddr, Config), ConfigError> {
        let mut args = vec![
            "merchant-reference",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--gateway",
            "http://127.0.0.1:9/router/rest",
            "--app-key",
            "k",
            "--app-secret",
            "s",
            "--session",
            "sess",
            "--notify-key",
            notify_key,
        ];
        args.extend_from_slice(extra);
        let Command::Serve(serve) = Cli::try_parse_from(args).unwrap().command;
        serve.into_config()
    }

    #[test]
    fn flags_become_a_config_with_defaults() {
        let (addr, config) = parse("n", &[]).unwrap();
        assert_eq!(addr.port(), 0);
        assert_eq!(config.db, PathBuf::from("merchant.sqlite"));
        assert_eq!(config.sign_method, SignMethod::HmacMd5);
        assert_eq!(config.codemerchant_id, None);
        let (_, config) = parse("n", &["--codemerchant-id", "42", "--sign-method", "md5"]).unwrap();
        assert_eq!((config.codemerchant_id, config.sign_method), (Some(42), SignMethod::Md5));
    }

    #[test]
    fn the_same_value_for_both_secrets_is_refused() {
        assert_eq!(parse("s", &[]).unwrap_err(), ConfigError::SameSecret);
    }

    #[test]
    fn help_explains_which_secret_does_what() {
        let help = Cli::command().find_subcommand_mut("serve").unwrap().render_long_help().to_string();
        assert!(help.contains("VERIFIES the notifications"), "{help}");
        assert!(help.contains("SIGNS the calls"), "{help}");
        assert!(help.contains("MERCHANT_NOTIFY_KEY"), "{help}");
    }
}
