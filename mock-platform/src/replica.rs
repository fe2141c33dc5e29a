//! The replica id, `hostname:pid:<4 random hex>`: the span every log line of a platform carries (and, with a
//! shared PostgreSQL store, the name on its delivery leases). The random part tells apart two processes that
//! reuse a pid on one host, such as restarts in a container.

/// A new id for this process.
pub fn new_id() -> String {
    format!("{}:{}:{:04x}", hostname(), std::process::id(), rand::random::<u16>())
}

/// Read from the kernel (Linux) or `/etc/hostname`, without an unsafe `gethostname` call; `localhost` elsewhere.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && !name.contains(char::is_whitespace))
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_id_is_a_host_this_pid_and_four_hex_digits() {
        let id = super::new_id();
        let parts: Vec<&str> = id.split(':').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert!(!parts[0].is_empty(), "{id}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert!(parts[2].len() == 4 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
}
