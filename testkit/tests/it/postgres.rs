//! The PostgreSQL harness: fresh isolated databases, concurrent use, and the features the shared store relies on.

use std::time::Instant;

use tokio_postgres::{Client, NoTls};

/// Connects to `url`, driving the connection on a task of the test's runtime.
async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection closed: {e}");
        }
    });
    client
}

#[tokio::test]
async fn a_table_created_in_one_database_is_absent_from_another() {
    let (first, second) = (testkit::postgres::database(), testkit::postgres::database());
    assert_ne!(first.name(), second.name());
    let (a, b) = (connect(first.url()).await, connect(second.url()).await);
    a.batch_execute("CREATE TABLE orders (id bigint PRIMARY KEY); INSERT INTO orders VALUES (1)").await.unwrap();
    let count: i64 = a.query_one("SELECT count(*) FROM orders", &[]).await.unwrap().get(0);
    assert_eq!(count, 1);
    let absent = b.query_one("SELECT to_regclass('orders') IS NULL", &[]).await.unwrap().get::<_, bool>(0);
    assert!(absent, "the table of {} is visible in {}", first.name(), second.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_databases_are_used_concurrently_from_tasks() {
    let tasks: Vec<_> = (0..8i32)
        .map(|n| {
            tokio::spawn(async move {
                let database = testkit::postgres::database();
                let client = connect(database.url()).await;
                client.batch_execute("CREATE TABLE marks (n int)").await.unwrap();
                client.execute("INSERT INTO marks VALUES ($1)", &[&n]).await.unwrap();
                let rows = client.query("SELECT n FROM marks", &[]).await.unwrap();
                let seen: Vec<i32> = rows.iter().map(|row| row.get(0)).collect();
                (database.name().to_owned(), seen)
            })
        })
        .collect();
    let mut names = Vec::new();
    for (n, task) in (0..8i32).zip(tasks) {
        let (name, seen) = task.await.unwrap();
        assert_eq!(seen, [n], "database {name} holds another task's rows");
        names.push(name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 8, "two tasks were given the same database");
}

#[tokio::test]
async fn skip_locked_gives_two_transactions_different_rows() {
    let database = testkit::postgres::database();
    let (mut first, mut second) = (connect(database.url()).await, connect(database.url()).await);
    first
        .batch_execute(
            "CREATE TABLE deliveries (id bigint PRIMARY KEY, lease_token uuid);
             INSERT INTO deliveries (id) VALUES (1), (2), (3)",
        )
        .await
        .unwrap();
    let lease = "SELECT id FROM deliveries WHERE lease_token IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED";
    let a = first.transaction().await.unwrap();
    let b = second.transaction().await.unwrap();
    let taken_by_a: i64 = a.query_one(lease, &[]).await.unwrap().get(0);
    // Without SKIP LOCKED this would block on a's row lock until a commits.
    let taken_by_b: i64 = b.query_one(lease, &[]).await.unwrap().get(0);
    assert_eq!((taken_by_a, taken_by_b), (1, 2));
    a.execute("UPDATE deliveries SET lease_token = gen_random_uuid() WHERE id = $1", &[&taken_by_a]).await.unwrap();
    b.execute("UPDATE deliveries SET lease_token = gen_random_uuid() WHERE id = $1", &[&taken_by_b]).await.unwrap();
    a.commit().await.unwrap();
    b.commit().await.unwrap();
    let free: i64 =
        first.query_one("SELECT count(*) FROM deliveries WHERE lease_token IS NULL", &[]).await.unwrap().get(0);
    assert_eq!(free, 1);
}

#[tokio::test]
async fn listen_notify_wakes_another_connection() {
    use futures_util::StreamExt;
    let database = testkit::postgres::database();
    let (listener, mut connection) =
        tokio_postgres::connect(database.url(), NoTls).await.unwrap_or_else(|e| panic!("{}: {e}", database.url()));
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = sender.send((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
    });
    listener.batch_execute("LISTEN deliveries_due").await.unwrap();
    let notifier = connect(database.url()).await;
    notifier.batch_execute("NOTIFY deliveries_due, '42'").await.unwrap();
    assert_eq!(received.recv().await, Some(("deliveries_due".to_owned(), "42".to_owned())));
}

#[test]
fn a_dropped_database_is_gone_from_the_server() {
    let database = testkit::postgres::database();
    let name = database.name().to_owned();
    drop(database);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let still_there = runtime.block_on(async {
        let keeper = testkit::postgres::database();
        let client = connect(keeper.url()).await;
        client
            .query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name])
            .await
            .unwrap()
            .get::<_, i64>(0)
    });
    assert_eq!(still_there, 0, "{name} was not dropped");
}

/// Not a benchmark and asserts nothing about speed: prints what the harness costs, for the report
/// (`cargo test -p testkit --test it -- --nocapture start_and_create`).
#[test]
fn start_and_create_times_are_printed() {
    let first = Instant::now();
    let database = testkit::postgres::database();
    let first_call = first.elapsed();
    let server = testkit::postgres::server();
    let mut creates = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let extra = testkit::postgres::database();
        creates.push(started.elapsed());
        drop(extra);
    }
    creates.sort();
    println!(
        "postgres harness: server ({}) started in {:?} (initdb + pg_ctl start); this test's first database() took \
         {first_call:?}; creating one database: median {:?} of 5 (min {:?}, max {:?})",
        server.bin_dir().display(),
        server.started_in(),
        creates[2],
        creates[0],
        creates[4]
    );
    assert!(database.url().contains(&server.socket_dir().display().to_string()));
}

/// Set in the child process of [`a_test_process_killed_with_sigkill_leaves_no_server_behind`].
const KILLED_CHILD: &str = "TESTKIT_PG_KILLED_CHILD";

#[test]
fn a_test_process_killed_with_sigkill_leaves_no_server_behind() {
    use std::io::BufRead;
    if std::env::var_os(KILLED_CHILD).is_some() {
        // The child: start this process's server, say where it is, and wait to be killed.
        let _database = testkit::postgres::database();
        println!("server-dir {}", testkit::postgres::server().socket_dir().parent().unwrap().display());
        loop {
            std::thread::park();
        }
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "postgres::a_test_process_killed_with_sigkill_leaves_no_server_behind", "--nocapture"])
        .env(KILLED_CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let dir = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("server-dir ").map(std::path::PathBuf::from))
        .expect("the child names its server's directory");
    let postmaster = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    let pid = postmaster.lines().next().unwrap().to_owned();
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while dir.exists() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!dir.exists(), "{} is still there after its test process was killed", dir.display());
    // The watchdog removes the directory only after `pg_ctl stop -w`: the postmaster is gone (or a zombie
    // waiting for init to reap it, whose cmdline is empty).
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(cmdline.is_empty(), "the postmaster {pid} still runs: {}", String::from_utf8_lossy(&cmdline));
}
