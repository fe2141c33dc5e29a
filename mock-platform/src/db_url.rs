//! `--db PATH|URL`: a SQLite file, or a PostgreSQL URL (`postgres://…`, `postgresql://…`, INTERFACES §1.2); and a
//! URL as it may be shown (in logs and errors) without its password.

/// Whether `--db`'s value names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(db: &str) -> bool {
    let lower = db.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The URL with the password of its `user:password@` part replaced by `***`: what logs and errors may show.
pub fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    // The authority ends at the first '/', '?' or '#'; its user info at the last '@' within it.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_owned() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_from_sqlite_paths() {
        assert!(is_postgres("postgres://u@h/db"));
        assert!(is_postgres("PostgreSQL://h/db"));
        assert!(!is_postgres("/var/lib/platform.db"));
        assert!(!is_postgres("postgres.db"));
    }

    #[test]
    fn a_password_never_shows_and_the_rest_of_the_url_does() {
        assert_eq!(redacted("postgres://app:s3cret@db.local:5432/sandbox"), "postgres://app:***@db.local:5432/sandbox");
        assert_eq!(redacted("postgresql://app@db/sandbox"), "postgresql://app@db/sandbox");
        assert_eq!(redacted("postgres://app:p@ss@db/x?sslmode=disable"), "postgres://app:***@db/x?sslmode=disable");
        assert_eq!(redacted("postgres:///sandbox?host=/tmp"), "postgres:///sandbox?host=/tmp");
        assert_eq!(redacted("/tmp/a.db"), "/tmp/a.db");
    }
}
