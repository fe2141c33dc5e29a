//! What the PostgreSQL benchmarks (`pg_gateway_call`, `pg_gateway`) share: their arguments, `pgbench` run on the
//! `testkit` server with a script and its `-D` variables, and the median of their rounds.

/// The `n`th command-line argument as a number, `default` when absent.
pub fn arg(n: usize, default: u64) -> u64 {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

/// Transactions per second of `pgbench -n -M prepared -c clients -j clients -T seconds` running `script` on
/// `database`, with `variables` set by `-D NAME=VALUE` (in prepared mode a `:variable` reaches the server as a
/// parameter: documents go as they are, unquoted).
pub fn pgbench_rate(
    database: &testkit::postgres::TestDatabase,
    clients: u64,
    seconds: u64,
    script: &str,
    variables: &[(&str, String)],
) -> f64 {
    let server = testkit::postgres::server();
    let path = std::env::temp_dir().join(format!("pgbench-{}.sql", std::process::id()));
    std::fs::write(&path, script).expect("writing the pgbench script");
    let mut command = std::process::Command::new(server.bin_dir().join("pgbench"));
    command
        .args(["-n", "-M", "prepared", "-h"])
        .arg(server.socket_dir())
        .args(["-U", "postgres", "-c", &clients.to_string(), "-j", &clients.to_string()])
        .args(["-T", &seconds.to_string()]);
    for (name, value) in variables {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    let output = command.arg("-f").arg(&path).arg(database.name()).output().expect("running pgbench");
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench's output:\n{stdout}"))
}

/// The median of the rounds' ratios (the machine is shared: rounds alternate, the median is the figure).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
