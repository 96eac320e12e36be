//! The real test SMTP server started by `scripts/services/smtp.sh`
//! (aiosmtpd with STARTTLS), and the messages it stored, read as files
//! (the raw wire format, not through this crate).

/// The running server.
#[derive(Debug, Clone)]
pub struct LiveSmtp {
    /// Host (an IP on loopback).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Its self-signed certificate (PEM).
    pub ca: String,
    /// Where it stores each message as a file.
    pub maildir: String,
}

impl LiveSmtp {
    /// The server from `BUTLER_TEST_SMTP_*`; `None` with a loud note
    /// outside CI; a panic under `CI=true`.
    pub fn from_env() -> Option<LiveSmtp> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (
            var("BUTLER_TEST_SMTP_HOST"),
            var("BUTLER_TEST_SMTP_PORT").and_then(|p| p.parse().ok()),
            var("BUTLER_TEST_SMTP_CA"),
            var("BUTLER_TEST_SMTP_MAILDIR"),
        ) {
            (Some(host), Some(port), Some(ca), Some(maildir)) => Some(LiveSmtp {
                host,
                port,
                ca,
                maildir,
            }),
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true but no SMTP server is running: BUTLER_TEST_SMTP_* unset (scripts/test.sh starts it)")
            }
            _ => {
                eprintln!("\n*** SKIPPED: no real SMTP server (BUTLER_TEST_SMTP_* unset); run scripts/test.sh ***\n");
                None
            }
        }
    }

    /// Every stored message (raw RFC 5322 text) whose text contains `needle`.
    pub fn messages_containing(&self, needle: &str) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let dir = std::path::Path::new(&self.maildir).join(sub);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    if text.contains(needle) {
                        out.push(text);
                    }
                }
            }
        }
        out
    }
}
