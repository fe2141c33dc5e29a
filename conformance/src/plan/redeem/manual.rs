//! `--pos manual` (INTERFACES §2, FAQ 1.5's joint debugging with real devices): instead of calling a hook, the
//! suite prints the code and count to redeem (or the serial to reverse) on a real terminal, and a person types
//! what the terminal showed. One prompt at a time, each within the POS deadline (120 s by default).

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::hook::HookAnswer;

/// The person at the terminal: where prompts go and answers come from (stderr and stdin in a run).
pub struct Clerk {
    io: Mutex<(Box<dyn AsyncBufRead + Send + Unpin>, Box<dyn AsyncWrite + Send + Unpin>)>,
}

impl std::fmt::Debug for Clerk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clerk").finish_non_exhaustive()
    }
}

/// What the suite asks the clerk to do.
#[derive(Debug, Clone, Copy)]
pub enum Ask<'a> {
    Redeem { code: &'a str, num: u32 },
    Reverse { serial: &'a str },
}

impl Clerk {
    /// The process's stdin and stderr (stdout carries the run's progress).
    pub fn terminal() -> Self {
        Self::new(tokio::io::BufReader::new(tokio::io::stdin()), tokio::io::stderr())
    }

    pub fn new(
        input: impl AsyncBufRead + Send + Unpin + 'static,
        output: impl AsyncWrite + Send + Unpin + 'static,
    ) -> Self {
        Self { io: Mutex::new((Box::new(input), Box::new(output))) }
    }

    /// Prints one prompt and reads the answer; `serial` is the serial the platform saw (for a redemption, the
    /// consume the merchant made), which a `r` or `u` answer carries.
    pub async fn ask(
        &self,
        order_id: i64,
        ask: Ask<'_>,
        deadline: Duration,
        serial: impl AsyncFnOnce() -> String,
    ) -> HookAnswer {
        let mut io = self.io.lock().await;
        let (input, output) = &mut *io;
        let what = match ask {
            Ask::Redeem { code, num } => format!("redeem {num} unit(s) of code {code}"),
            Ask::Reverse { serial } => format!("reverse (冲正) the redemption with serial {serial}"),
        };
        let prompt = format!(
            "\n[POS manual] order {order_id}: {what} on the terminal, then type what it showed and Enter \
             (r = redeemed or reversed, f = refused, u = outcome unknown), within {} s: ",
            deadline.as_secs()
        );
        if output.write_all(prompt.as_bytes()).await.is_err() || output.flush().await.is_err() {
            return HookAnswer::Broken("the prompt could not be written".into());
        }
        let mut line = String::new();
        let read = tokio::time::timeout(deadline, input.read_line(&mut line)).await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => return HookAnswer::Broken("no answer from the clerk: the input ended".into()),
            Err(_) => return HookAnswer::Broken(format!("no answer from the clerk within {} s", deadline.as_secs())),
        }
        match line.trim().to_lowercase().as_str() {
            "r" => HookAnswer::Redeemed { serial: serial().await },
            "u" => HookAnswer::OutcomeUnknown { serial: Some(serial().await) },
            "f" => HookAnswer::Refused { status: 0, kind: Some("refused at the terminal".into()), error: None },
            other => HookAnswer::Broken(format!("the clerk answered {other:?}, not r, f or u")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_prompt_names_the_code_and_count_and_reads_one_answer() {
        let (output, mut shown) = tokio::io::duplex(4096);
        let clerk = Clerk::new(&b"r\nf\nu\nmaybe\n"[..], output);
        let deadline = Duration::from_secs(1);
        let redeem = Ask::Redeem { code: "834920174561", num: 2 };
        let serial = async || "s1".to_owned();
        assert_eq!(clerk.ask(7, redeem, deadline, serial).await, HookAnswer::Redeemed { serial: "s1".into() });
        assert!(matches!(clerk.ask(7, redeem, deadline, serial).await, HookAnswer::Refused { status: 0, .. }));
        let reverse = Ask::Reverse { serial: "s1" };
        assert_eq!(
            clerk.ask(7, reverse, deadline, serial).await,
            HookAnswer::OutcomeUnknown { serial: Some("s1".into()) }
        );
        assert!(
            matches!(clerk.ask(7, redeem, deadline, serial).await, HookAnswer::Broken(why) if why.contains("maybe"))
        );
        assert!(
            matches!(clerk.ask(7, redeem, deadline, serial).await, HookAnswer::Broken(why) if why.contains("ended"))
        );
        drop(clerk);
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut shown, &mut text).await.unwrap();
        assert!(text.contains("order 7: redeem 2 unit(s) of code 834920174561 on the terminal"), "{text}");
        assert!(text.contains("reverse (冲正) the redemption with serial s1"), "{text}");
    }
}
