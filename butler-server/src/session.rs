//! Server-side sessions and the login rate limit.
//!
//! A session id is 32 random bytes shown once (in the cookie or, for
//! scripts, in the login answer); the server keeps only its SHA-256, so a
//! memory dump or log line never holds a usable id. Sessions expire after
//! an idle time and an absolute lifetime, and end at logout.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// How a session was handed out; each kind is accepted only where it was
/// sent, so a bearer token in a cookie (or the reverse) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Browser: `Cookie` header, writes need the CSRF token.
    Cookie,
    /// Script: `Authorization: Bearer`, not sent by browsers on their own.
    Bearer,
}

/// One live session.
#[derive(Clone)]
pub struct Session {
    /// The user (re-read from the store on every call for roles and
    /// whether they are still enabled).
    pub user: String,
    /// How it is presented.
    pub kind: SessionKind,
    /// The CSRF token cookie sessions send back in `X-CSRF-Token`.
    pub csrf: String,
    /// For a directory (LDAP) user, the roles the directory gave at login
    /// (the store holds no such user); `None` for a stored user.
    pub directory_roles: Option<butler::auth::RoleSet>,
    /// When it was opened.
    pub created: DateTime<Utc>,
    /// Last use.
    pub seen: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

type Key = [u8; 32];

fn key_of(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh unguessable token (256 bits, URL-safe base64).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Compares without an early exit, so timing does not reveal a prefix.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The live sessions.
pub struct Sessions {
    map: RwLock<HashMap<Key, Session>>,
    idle: Duration,
    lifetime: Duration,
}

impl Sessions {
    /// Sessions that end after `idle` without use or `lifetime` in all.
    pub fn new(idle: Duration, lifetime: Duration) -> Sessions {
        Sessions {
            map: RwLock::new(HashMap::new()),
            idle,
            lifetime,
        }
    }

    /// The idle timeout (the cookie's Max-Age).
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// Opens a session and returns its token (shown once).
    pub fn open(&self, user: &str, kind: SessionKind, now: DateTime<Utc>) -> (String, Session) {
        self.open_with(user, kind, now, None)
    }

    /// Opens a session of a directory user with the roles it gave.
    pub fn open_with(
        &self,
        user: &str,
        kind: SessionKind,
        now: DateTime<Utc>,
        directory_roles: Option<butler::auth::RoleSet>,
    ) -> (String, Session) {
        let token = random_token();
        let s = Session {
            user: user.to_string(),
            kind,
            directory_roles,
            csrf: random_token(),
            created: now,
            seen: now,
        };
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        // Expired sessions go when new ones come, so the map stays bounded
        // by the live ones.
        if map.len() % 1024 == 1023 {
            map.retain(|_, s| !Self::expired(s, now, self.idle, self.lifetime));
        }
        map.insert(key_of(&token), s.clone());
        (token, s)
    }

    fn expired(s: &Session, now: DateTime<Utc>, idle: Duration, lifetime: Duration) -> bool {
        now - s.seen > idle || now - s.created > lifetime
    }

    /// The live session of `token` presented as `kind`, marked as used.
    pub fn find(&self, token: &str, kind: SessionKind, now: DateTime<Utc>) -> Option<Session> {
        let key = key_of(token);
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            let s = map.get(&key)?;
            if s.kind != kind {
                return None;
            }
            // Marking "seen" more often than once a second buys nothing and
            // would take the write lock on every call.
            if !Self::expired(s, now, self.idle, self.lifetime)
                && now - s.seen < Duration::seconds(1)
            {
                return Some(s.clone());
            }
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let s = map.get_mut(&key)?;
        if Self::expired(s, now, self.idle, self.lifetime) {
            map.remove(&key);
            return None;
        }
        s.seen = now;
        Some(s.clone())
    }

    /// Ends one session.
    pub fn close(&self, token: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key_of(token));
    }

    /// Ends every session of `user` (password change, disabled user).
    pub fn close_all_of(&self, user: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| s.user != user);
    }

    /// Live sessions (for tests and metrics).
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Throttles failed logins (the policy, documented in the README):
///
/// - per (client address, user name), the name compared after trimming
///   and case folding: `per_user` failures within `window` are free; after
///   that each attempt waits 1 s after the last failure, then 2, 4, …,
///   up to `window`. Only that client is slowed: the same user from
///   another address is not, so nobody can lock a user out by guessing.
/// - per client address, across names: `per_address` failures free, then
///   the same growing delays (one client guessing many names).
///
/// A throttled attempt is refused before any password check, the same way
/// whether the user exists or not, with the seconds to wait. A good login
/// forgets that client's failures for that user.
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
    window: Duration,
    per_user: usize,
    per_address: usize,
    first_delay: Duration,
}

impl LoginLimiter {
    /// `per_user` failures of one client for one user, and `per_address`
    /// of one client for anyone, free per `window`; then 1 s, doubling.
    pub fn new(window: Duration, per_user: usize, per_address: usize) -> LoginLimiter {
        LoginLimiter {
            failures: Mutex::new(HashMap::new()),
            window,
            per_user,
            per_address,
            first_delay: Duration::seconds(1),
        }
    }

    /// The first delay past a budget (1 s by default), doubling after.
    pub fn with_first_delay(mut self, first: Duration) -> LoginLimiter {
        self.first_delay = first;
        self
    }

    /// The keys an attempt counts under, with each one's free budget.
    fn keys(&self, user: &str, address: &str) -> [(String, usize); 2] {
        let user = user.trim().to_lowercase();
        [
            (format!("p:{address}|{user}"), self.per_user),
            (format!("a:{address}"), self.per_address),
        ]
    }

    /// `Err(seconds to wait)` while either key is throttled.
    pub fn check(&self, user: &str, address: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = 0i64;
        for (key, budget) in self.keys(user, address) {
            let Some(times) = map.get_mut(&key) else {
                continue;
            };
            times.retain(|t| now - *t < self.window);
            let (Some(over), Some(last)) = (times.len().checked_sub(budget), times.last()) else {
                continue;
            };
            // `first_delay` after the first failure past the budget, doubling.
            let delay = self
                .first_delay
                .checked_mul(1i32 << over.min(20))
                .map_or(self.window, |d| d.min(self.window));
            let ready = *last + delay;
            if now < ready {
                wait = wait.max((ready - now).num_seconds().max(1));
            }
        }
        if wait > 0 {
            Err(wait.unsigned_abs())
        } else {
            Ok(())
        }
    }

    /// Counts a failure.
    pub fn failed(&self, user: &str, address: &str, now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, v| v.last().is_some_and(|t| now - *t < self.window));
        }
        for (key, _) in self.keys(user, address) {
            map.entry(key).or_default().push(now);
        }
    }

    /// Forgets the failures of this client for this user after a good login.
    pub fn succeeded(&self, user: &str, address: &str) {
        let [(key, _), _] = self.keys(user, address);
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_session_is_found_by_its_token_only_in_its_own_kind() {
        let s = Sessions::new(Duration::minutes(30), Duration::hours(8));
        let (tok, _) = s.open("ana", SessionKind::Cookie, t0());
        assert_eq!(
            s.find(&tok, SessionKind::Cookie, t0()).map(|s| s.user),
            Some("ana".into())
        );
        assert!(s.find(&tok, SessionKind::Bearer, t0()).is_none());
        assert!(s.find("forged", SessionKind::Cookie, t0()).is_none());
    }

    #[test]
    fn sessions_expire_when_idle_and_at_their_lifetime() {
        let s = Sessions::new(Duration::minutes(30), Duration::hours(1));
        let (tok, _) = s.open("ana", SessionKind::Cookie, t0());
        let mut now = t0();
        // Used every 20 minutes it lives until its lifetime ends.
        for _ in 0..2 {
            now += Duration::minutes(20);
            assert!(s.find(&tok, SessionKind::Cookie, now).is_some());
        }
        now += Duration::minutes(21);
        assert!(s.find(&tok, SessionKind::Cookie, now).is_none(), "lifetime");
        let (idle, _) = s.open("bea", SessionKind::Cookie, t0());
        assert!(s
            .find(&idle, SessionKind::Cookie, t0() + Duration::minutes(31))
            .is_none());
    }

    #[test]
    fn logout_and_close_all_end_sessions() {
        let s = Sessions::new(Duration::minutes(30), Duration::hours(8));
        let (a, _) = s.open("ana", SessionKind::Cookie, t0());
        let (b, _) = s.open("ana", SessionKind::Bearer, t0());
        let (c, _) = s.open("bea", SessionKind::Bearer, t0());
        s.close(&a);
        assert!(s.find(&a, SessionKind::Cookie, t0()).is_none());
        s.close_all_of("ana");
        assert!(s.find(&b, SessionKind::Bearer, t0()).is_none());
        assert!(s.find(&c, SessionKind::Bearer, t0()).is_some());
    }

    #[test]
    fn the_limiter_slows_one_client_for_one_user_and_never_locks_the_user_out() {
        let l = LoginLimiter::new(Duration::minutes(15), 3, 5);
        let secs = |n: i64| t0() + Duration::seconds(n);
        for _ in 0..3 {
            assert!(l.check("Ana", "10.0.0.1", t0()).is_ok());
            l.failed("Ana", "10.0.0.1", t0());
        }
        // That client waits 1 s, whatever the case or spacing of the name...
        assert_eq!(l.check(" ana", "10.0.0.1", t0()), Err(1));
        assert!(l.check("ana", "10.0.0.1", secs(1)).is_ok());
        // ... and each further failure doubles its wait.
        l.failed("ana", "10.0.0.1", secs(1));
        assert_eq!(l.check("ana", "10.0.0.1", secs(1)), Err(2));
        l.failed("ana", "10.0.0.1", secs(3));
        assert_eq!(l.check("ana", "10.0.0.1", secs(3)), Err(4));
        // The user from elsewhere is not held back.
        assert!(l.check("ana", "10.0.0.2", secs(3)).is_ok());
        // One client guessing many names hits its address budget.
        assert!(l.check("bea", "10.0.0.3", t0()).is_ok());
        for name in ["bea", "carl", "dora", "eve", "fred"] {
            l.failed(name, "10.0.0.3", t0());
        }
        assert!(l.check("gina", "10.0.0.3", t0()).is_err(), "address budget");
        assert!(l.check("gina", "10.0.0.4", t0()).is_ok());
        // A good login forgets that client's failures for that user (its
        // five failures still count against its address, 1 s past).
        l.succeeded("ANA", "10.0.0.1");
        assert!(l.check("ana", "10.0.0.1", secs(4)).is_ok());
        // The window forgets everything.
        assert!(l
            .check("gina", "10.0.0.3", t0() + Duration::minutes(16))
            .is_ok());
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
