//! The binary's logs: plain text when its output is not a terminal.

use std::io::BufRead;
use std::process::{Command, Stdio};

/// Kills the child when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_mock-platform"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG")
            .env_remove("MOCK_PLATFORM_ADMIN_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("mock-platform listening"), "{line:?}");
    assert!(!line.contains('\u{1b}'), "escape codes in a piped log: {line:?}");
    // The replica id: host, this child's pid, 4 hex digits.
    let pid = child.0.id();
    assert!(line.contains("replica{id=") && line.contains(&format!(":{pid}:")), "no replica id: {line:?}");
}
