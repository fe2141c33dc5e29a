//! `conformance run` settings: clap flags and an optional TOML file, turned into one validated [`Config`]
//! before anything runs (the ripgrep model).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::Secret;
use serde::Deserialize;

/// The real-time windows of PROTOCOL §6 and INTERFACES.md §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// How long the merchant has to answer a notification (5 s).
    pub ack_deadline: Duration,
    /// How long the platform holds a callback whose notification is still open (2 s, platform side).
    pub c4_hold: Duration,
    /// How long the suite watches for calls that must not come (5 s, shorter than the first retry at 15 s).
    pub quiet: Duration,
    /// How long the merchant has, from its ack, to make a successful callback (20 s).
    pub callback: Duration,
    /// The whole run ends within this, even when the merchant never calls back (75 s).
    pub run_bound: Duration,
}

/// The platform's first notification retry comes 15 s after the first attempt (PROTOCOL §3.5).
const FIRST_RETRY: Duration = Duration::from_secs(15);

impl Default for Windows {
    fn default() -> Self {
        Self {
            ack_deadline: Duration::from_secs(5),
            c4_hold: Duration::from_secs(2),
            quiet: Duration::from_secs(5),
            callback: Duration::from_secs(20),
            run_bound: Duration::from_secs(75),
        }
    }
}

impl Windows {
    /// PROTOCOL §6: C4 hold < deadline < first retry, quiet < first retry; the callback window must fit in
    /// the run bound with room for the setup and the deadline.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |why: &str| Err(ConfigError::Windows(why.to_owned()));
        if self.c4_hold >= self.ack_deadline {
            return bad("the C4 hold must be shorter than the acknowledgement deadline");
        }
        if self.ack_deadline >= FIRST_RETRY {
            return bad("the acknowledgement deadline must be shorter than the first retry (15 s)");
        }
        if self.quiet.is_zero() || self.quiet >= FIRST_RETRY {
            return bad("the quiet window must be between 0 and the first retry (15 s)");
        }
        if self.callback.is_zero() || self.callback + self.ack_deadline * 2 + self.quiet >= self.run_bound {
            return bad("the callback window leaves no room in the 75 s run bound");
        }
        Ok(())
    }
}

/// The merchant under test and the credentials it was configured with.
#[derive(Debug, Clone)]
pub struct MerchantConfig {
    /// The notify URL, used verbatim (path included).
    pub url: String,
    pub app_key: String,
    pub app_secret: Secret,
    pub session: String,
    pub notify_key: Secret,
    pub codemerchant_id: Option<i64>,
}

/// The merchant's POS hook (INTERFACES §4): what C11–C14 drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosConfig {
    /// `{url}/consume` and `{url}/reverse` (no trailing slash); empty with `manual`.
    pub url: String,
    /// `--pos manual`: a person redeems each code on a real terminal and types what it showed (FAQ 1.5).
    pub manual: bool,
    /// A 码商's bound terminal: sent in consume requests, and bound to the merchant on the platform.
    pub posid: Option<String>,
    /// How long the hook has to answer one request (15 s).
    pub deadline: Duration,
}

/// The POS deadline of PROTOCOL §6.1.
pub const DEFAULT_POS_DEADLINE: Duration = Duration::from_secs(15);
/// A longer deadline would not fit a redemption check (deadline, then the quiet window) in the run bound.
const MAX_POS_DEADLINE: Duration = Duration::from_secs(30);
/// With `--pos manual` a person answers each prompt (INTERFACES §2).
pub const DEFAULT_MANUAL_DEADLINE: Duration = Duration::from_secs(120);
const MAX_MANUAL_DEADLINE: Duration = Duration::from_secs(600);
/// Prompts a manual run can make (every hook request of the plan): its bound grows by this many deadlines.
pub const MANUAL_PROMPTS: u32 = 24;

/// Where the platform runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformTarget {
    /// Start the mock platform in this process, its listener on this address.
    InProcess(SocketAddr),
    /// Drive a running mock platform through its admin API.
    Remote { url: String, admin_token: Option<String> },
}

/// Where reports are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportPaths {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

/// A validated `run` configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub merchant: MerchantConfig,
    pub platform: PlatformTarget,
    pub reports: ReportPaths,
    /// Only checks whose id matches one of these patterns run; the others are reported as skipped.
    pub only: Vec<String>,
    /// Seeds the order data (mobiles, titles), so two runs buy the same orders.
    pub seed: u64,
    pub windows: Windows,
    /// The POS hook; without it C11–C14 are skipped, naming `--pos-url`.
    pub pos: Option<PosConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing {0} (give it as a flag or in the config file)")]
    Missing(&'static str),
    #[error("--gateway-listen and --platform-url are exclusive: the gateway is the running platform's")]
    BothPlatforms,
    #[error("invalid {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("invalid windows: {0}")]
    Windows(String),
    #[error("cannot read config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// The merchant under test and the platform it meets: the flags `run`, `scenario` and `load` share.
///
/// Flattened into [`RunArgs`] for serde too: the outer struct's `deny_unknown_fields` still refuses a key
/// neither knows (serde checks what the flattened struct left), so this one must not deny them itself.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
pub struct TargetArgs {
    /// The merchant's notify URL, used verbatim (path included).
    #[arg(long)]
    pub merchant_url: Option<String>,
    /// Run the mock platform in this process, listening on ADDR (the merchant calls http://ADDR/router/rest).
    #[arg(long, value_name = "ADDR")]
    pub gateway_listen: Option<String>,
    /// Drive an already running mock platform through its admin API instead.
    #[arg(long, value_name = "URL")]
    pub platform_url: Option<String>,
    /// Bearer token for a running platform's admin API.
    #[arg(long, env = "CONFORMANCE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    #[arg(long)]
    pub app_key: Option<String>,
    #[arg(long, env = "CONFORMANCE_APP_SECRET", hide_env_values = true)]
    pub app_secret: Option<String>,
    #[arg(long, env = "CONFORMANCE_SESSION", hide_env_values = true)]
    pub session: Option<String>,
    #[arg(long, env = "CONFORMANCE_NOTIFY_KEY", hide_env_values = true)]
    pub notify_key: Option<String>,
    /// For a 码商 (code merchant): its codemerchant_id.
    #[arg(long)]
    pub codemerchant_id: Option<i64>,
}

impl TargetArgs {
    /// Fills the flags not given from `other` (the config file).
    fn or(self, other: TargetArgs) -> TargetArgs {
        TargetArgs {
            merchant_url: self.merchant_url.or(other.merchant_url),
            gateway_listen: self.gateway_listen.or(other.gateway_listen),
            platform_url: self.platform_url.or(other.platform_url),
            admin_token: self.admin_token.or(other.admin_token),
            app_key: self.app_key.or(other.app_key),
            app_secret: self.app_secret.or(other.app_secret),
            session: self.session.or(other.session),
            notify_key: self.notify_key.or(other.notify_key),
            codemerchant_id: self.codemerchant_id.or(other.codemerchant_id),
        }
    }

    /// The merchant and the platform, validated.
    pub fn validate(self) -> Result<(MerchantConfig, PlatformTarget), ConfigError> {
        let url = self.merchant_url.ok_or(ConfigError::Missing("--merchant-url"))?;
        check_http_url("--merchant-url", &url)?;
        if url.contains('?') {
            return Err(ConfigError::Invalid {
                name: "--merchant-url",
                reason: "a notify URL must not carry a query string (it would enter the sign)".into(),
            });
        }
        let platform = match (self.gateway_listen, self.platform_url) {
            (Some(_), Some(_)) => return Err(ConfigError::BothPlatforms),
            (Some(addr), None) => PlatformTarget::InProcess(addr.parse().map_err(|_| ConfigError::Invalid {
                name: "--gateway-listen",
                reason: format!("{addr:?} is not an IP:port address"),
            })?),
            (None, Some(url)) => {
                check_http_url("--platform-url", &url)?;
                PlatformTarget::Remote { url: url.trim_end_matches('/').to_owned(), admin_token: self.admin_token }
            }
            (None, None) => return Err(ConfigError::Missing("--gateway-listen or --platform-url")),
        };
        let non_empty = |value: Option<String>, name: &'static str| match value {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(ConfigError::Invalid { name, reason: "empty".into() }),
            None => Err(ConfigError::Missing(name)),
        };
        let merchant = MerchantConfig {
            url,
            app_key: non_empty(self.app_key, "--app-key")?,
            app_secret: Secret::new(non_empty(self.app_secret, "--app-secret")?),
            session: non_empty(self.session, "--session")?,
            notify_key: Secret::new(non_empty(self.notify_key, "--notify-key")?),
            codemerchant_id: self.codemerchant_id,
        };
        Ok((merchant, platform))
    }
}

/// `conformance run` flags. Every one can also come from the `--config` TOML file (same names, `_` for `-`);
/// flags win.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_name = "FILE")]
    pub json_report: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub html_report: Option<PathBuf>,
    /// Run only checks whose id matches (substring, `*` wildcard; comma-separated list).
    #[arg(long, value_name = "PATTERN")]
    pub only: Option<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds the merchant has to acknowledge a notification (default 5).
    #[arg(long, value_name = "SECS")]
    pub ack_deadline: Option<f64>,
    /// Seconds the merchant has, from its ack, for a successful callback (default 20).
    #[arg(long, value_name = "SECS")]
    pub callback_window: Option<f64>,
    /// Seconds the suite watches for calls that must not come (default 5).
    #[arg(long, value_name = "SECS")]
    pub quiet_window: Option<f64>,
    /// The merchant's POS hook (INTERFACES §4): adds the redemption checks C11–C14.
    #[arg(long, value_name = "URL")]
    pub pos_url: Option<String>,
    /// `manual`: print each code and count to redeem on a real terminal and ask what it showed (instead of a hook).
    #[arg(long, value_name = "MODE")]
    pub pos: Option<String>,
    /// A 码商's bound terminal id, sent in hook requests (needs --pos-url).
    #[arg(long, value_name = "ID")]
    pub posid: Option<String>,
    /// Seconds the POS hook has to answer one request (default 15).
    #[arg(long, value_name = "SECS")]
    pub pos_deadline: Option<f64>,
    /// A TOML file with the same keys as these flags.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
}

impl RunArgs {
    /// Fills the flags not given from `other` (the config file).
    fn or(self, other: RunArgs) -> RunArgs {
        RunArgs {
            target: self.target.or(other.target),
            json_report: self.json_report.or(other.json_report),
            junit: self.junit.or(other.junit),
            html_report: self.html_report.or(other.html_report),
            only: self.only.or(other.only),
            seed: self.seed.or(other.seed),
            ack_deadline: self.ack_deadline.or(other.ack_deadline),
            callback_window: self.callback_window.or(other.callback_window),
            quiet_window: self.quiet_window.or(other.quiet_window),
            pos_url: self.pos_url.or(other.pos_url),
            pos: self.pos.or(other.pos),
            posid: self.posid.or(other.posid),
            pos_deadline: self.pos_deadline.or(other.pos_deadline),
            config: self.config,
        }
    }

    /// Reads the config file (if any), merges it under the flags and validates the result.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let merged = match self.config.clone() {
            Some(path) => {
                let file = read_file(&path)?;
                self.or(file)
            }
            None => self,
        };
        merged.validate()
    }

    fn validate(self) -> Result<Config, ConfigError> {
        let (merchant, platform) = self.target.validate()?;
        let defaults = Windows::default();
        let windows = Windows {
            ack_deadline: seconds("--ack-deadline", self.ack_deadline)?.unwrap_or(defaults.ack_deadline),
            callback: seconds("--callback-window", self.callback_window)?.unwrap_or(defaults.callback),
            quiet: seconds("--quiet-window", self.quiet_window)?.unwrap_or(defaults.quiet),
            ..defaults
        };
        windows.validate()?;
        let pos = pos_config(self.pos_url, self.pos.as_deref(), self.posid, self.pos_deadline)?;
        let only = self
            .only
            .map(|o| o.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Config {
            merchant,
            platform,
            reports: ReportPaths { json: self.json_report, junit: self.junit, html: self.html_report },
            only,
            seed: self.seed.unwrap_or(1),
            windows,
            pos,
        })
    }
}

/// `--pos-url` or `--pos manual`, `--posid`, `--pos-deadline` as one optional [`PosConfig`].
fn pos_config(
    url: Option<String>,
    mode: Option<&str>,
    posid: Option<String>,
    deadline: Option<f64>,
) -> Result<Option<PosConfig>, ConfigError> {
    match (mode, &url) {
        (Some(_), Some(_)) => {
            let reason = "--pos manual and --pos-url exclude each other".into();
            return Err(ConfigError::Invalid { name: "--pos", reason });
        }
        (Some("manual"), None) => {
            if posid.as_deref() == Some("") {
                return Err(ConfigError::Invalid { name: "--posid", reason: "empty".into() });
            }
            let deadline = seconds("--pos-deadline", deadline)?.unwrap_or(DEFAULT_MANUAL_DEADLINE);
            if deadline.is_zero() || deadline > MAX_MANUAL_DEADLINE {
                let most = MAX_MANUAL_DEADLINE.as_secs();
                let reason = format!("must be above 0 and at most {most} s with --pos manual");
                return Err(ConfigError::Invalid { name: "--pos-deadline", reason });
            }
            return Ok(Some(PosConfig { url: String::new(), manual: true, posid, deadline }));
        }
        (Some(other), None) => {
            let reason = format!("{other:?}: the only mode is manual");
            return Err(ConfigError::Invalid { name: "--pos", reason });
        }
        (None, _) => {}
    }
    let Some(url) = url else {
        if posid.is_some() || deadline.is_some() {
            return Err(ConfigError::Invalid {
                name: "--posid",
                reason: "--posid and --pos-deadline need --pos-url".into(),
            });
        }
        return Ok(None);
    };
    check_http_url("--pos-url", &url)?;
    if posid.as_deref() == Some("") {
        return Err(ConfigError::Invalid { name: "--posid", reason: "empty".into() });
    }
    let deadline = seconds("--pos-deadline", deadline)?.unwrap_or(DEFAULT_POS_DEADLINE);
    if deadline.is_zero() || deadline > MAX_POS_DEADLINE {
        return Err(ConfigError::Invalid {
            name: "--pos-deadline",
            reason: format!("must be above 0 and at most {} s", MAX_POS_DEADLINE.as_secs()),
        });
    }
    Ok(Some(PosConfig { url: url.trim_end_matches('/').to_owned(), manual: false, posid, deadline }))
}

fn read_file(path: &Path) -> Result<RunArgs, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::File { path: path.to_owned(), reason: e.to_string() })?;
    toml::from_str(&text).map_err(|e| ConfigError::File { path: path.to_owned(), reason: e.to_string() })
}

fn check_http_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| ConfigError::Invalid {
        name,
        reason: format!("{url:?} is not an http:// URL (every peer is reached without TLS)"),
    })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ConfigError::Invalid { name, reason: format!("{url:?} has no host") });
    }
    Ok(())
}

fn seconds(name: &'static str, value: Option<f64>) -> Result<Option<Duration>, ConfigError> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| ConfigError::Invalid { name, reason: format!("{s} is not a number of seconds") })
        })
        .transpose()
}

/// `host:port` of an `http://host:port/path` URL: what the preflight connects to.
pub fn host_port(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    Some(if has_port { authority.to_owned() } else { format!("{authority}:80") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> RunArgs {
        RunArgs { target: target(), ..RunArgs::default() }
    }

    fn target() -> TargetArgs {
        TargetArgs {
            merchant_url: Some("http://127.0.0.1:9000/notify".into()),
            gateway_listen: Some("127.0.0.1:0".into()),
            app_key: Some("12345678".into()),
            app_secret: Some("app-secret".into()),
            session: Some("session".into()),
            notify_key: Some("notify-key".into()),
            ..TargetArgs::default()
        }
    }

    #[test]
    fn complete_flags_make_a_config_with_the_default_windows() {
        let config = args().into_config().unwrap();
        assert_eq!(config.windows, Windows::default());
        assert_eq!(config.platform, PlatformTarget::InProcess("127.0.0.1:0".parse().unwrap()));
        assert!(config.only.is_empty());
    }

    #[test]
    fn both_platform_flags_are_refused() {
        let a =
            RunArgs { target: TargetArgs { platform_url: Some("http://127.0.0.1:1".into()), ..target() }, ..args() };
        assert!(matches!(a.into_config(), Err(ConfigError::BothPlatforms)));
    }

    #[test]
    fn missing_credentials_are_named() {
        let a = RunArgs { target: TargetArgs { notify_key: None, ..target() }, ..args() };
        assert_eq!(
            a.into_config().unwrap_err().to_string(),
            "missing --notify-key (give it as a flag or in the config file)"
        );
    }

    #[test]
    fn windows_breaking_the_protocol_timing_are_refused() {
        for a in [
            RunArgs { quiet_window: Some(15.0), ..args() },
            RunArgs { ack_deadline: Some(1.0), ..args() },
            RunArgs { callback_window: Some(70.0), ..args() },
            RunArgs { callback_window: Some(-1.0), ..args() },
        ] {
            assert!(a.into_config().is_err());
        }
    }

    #[test]
    fn a_notify_url_with_a_query_string_or_without_http_is_refused() {
        for url in ["http://h/notify?x=1", "https://h/notify", "h:1/notify", "http:///x"] {
            let a = RunArgs { target: TargetArgs { merchant_url: Some(url.into()), ..target() }, ..args() };
            assert!(a.into_config().is_err(), "{url}");
        }
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = std::env::temp_dir().join(format!("conformance-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        let file =
            "app_key = \"from-file\"\nsession = \"file-session\"\nseed = 9\ncallback_window = 10.0\nonly = \"C2\"\n";
        std::fs::write(&path, file).unwrap();
        // The merchant flags are flattened from `TargetArgs`: the file fills them too.
        let a = RunArgs { config: Some(path.clone()), target: TargetArgs { session: None, ..target() }, ..args() };
        let config = a.into_config().unwrap();
        assert_eq!(config.merchant.app_key, "12345678");
        assert_eq!(config.merchant.session, "file-session");
        assert_eq!(config.seed, 9);
        assert_eq!(config.windows.callback, Duration::from_secs(10));
        assert_eq!(config.only, ["C2"]);
        std::fs::write(&path, "no_such_key = 1\n").unwrap();
        assert!(matches!(RunArgs { config: Some(path), ..args() }.into_config(), Err(ConfigError::File { .. })));
    }

    #[test]
    fn a_pos_hook_is_optional_and_its_companions_need_it() {
        assert_eq!(args().into_config().unwrap().pos, None);
        let with = RunArgs { pos_url: Some("http://127.0.0.1:9/pos/".into()), posid: Some("T1".into()), ..args() };
        let pos = with.into_config().unwrap().pos.unwrap();
        assert_eq!(
            (pos.url.as_str(), pos.posid.as_deref(), pos.deadline),
            ("http://127.0.0.1:9/pos", Some("T1"), DEFAULT_POS_DEADLINE)
        );
        let manual = RunArgs { pos: Some("manual".into()), ..args() }.into_config().unwrap().pos.unwrap();
        assert_eq!((manual.manual, manual.deadline), (true, DEFAULT_MANUAL_DEADLINE), "not bound by the 75 s");
        for bad in [
            RunArgs { pos: Some("auto".into()), ..args() },
            RunArgs { pos: Some("manual".into()), pos_url: Some("http://h/pos".into()), ..args() },
            RunArgs { posid: Some("T1".into()), ..args() },
            RunArgs { pos_url: Some("https://h/pos".into()), ..args() },
            RunArgs { pos_url: Some("http://h/pos".into()), pos_deadline: Some(0.0), ..args() },
            RunArgs { pos_url: Some("http://h/pos".into()), pos_deadline: Some(31.0), ..args() },
        ] {
            assert!(bad.into_config().is_err());
        }
    }

    #[test]
    fn host_port_defaults_to_port_80() {
        assert_eq!(host_port("http://127.0.0.1:8080/notify").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(host_port("http://example.test/notify").as_deref(), Some("example.test:80"));
        assert_eq!(host_port("http://[::1]:9/n").as_deref(), Some("[::1]:9"));
        assert_eq!(host_port("ftp://x"), None);
    }
}
