//! A real headless Chromium driven over WebDriver (chromedriver), both
//! from Debian's packages; skipped loudly outside CI when absent.

#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Browser {
    pub c: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

fn find(paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

/// axe-core's script, from `BUTLER_AXE_JS` or where `scripts/axe.sh`
/// puts it; `None` (loudly) outside CI when it is not there.
fn axe_source() -> Option<String> {
    let path = std::env::var("BUTLER_AXE_JS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/axe/node_modules/axe-core/axe.min.js"
        )
        .to_string()
    });
    match std::fs::read_to_string(&path) {
        Ok(js) => Some(js),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but axe-core is missing ({path}: {e}); scripts/test.sh fetches it")
        }
        Err(_) => {
            eprintln!("\n*** SKIPPED: no axe-core at {path}; run scripts/axe.sh ***\n");
            None
        }
    }
}

impl Browser {
    /// A fresh browser (its own profile, 1280×800), or `None` (loudly)
    /// when Chromium or chromedriver is missing outside CI.
    pub async fn start() -> Option<Browser> {
        let (Some(chromium), Some(driver)) = (
            find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
            find(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]),
        ) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but Chromium/chromedriver are missing (.ci/run installs them)");
            }
            eprintln!("\n*** SKIPPED: no Chromium/chromedriver (apt-get install chromium chromium-driver) ***\n");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.path().display()),
                    // A Spanish-speaking user's browser: pages without the
                    // console's language cookie follow Accept-Language.
                    "--lang=es",
                ],
                "prefs": {"intl.accept_languages": "es-ES,es"},
            }),
        );
        // Scripts (axe-core's run) and page loads get five minutes, not
        // WebDriver's 30 s: several browsers on two loaded cores can take
        // longer, and no test may depend on the machine's speed.
        caps.insert(
            "timeouts".into(),
            serde_json::json!({"script": 300_000, "pageLoad": 300_000}),
        );
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../target/console-screenshots");
                    let _ = std::fs::create_dir_all(&shots);
                    return Some(Browser {
                        c,
                        driver: child,
                        _profile: profile,
                        shots,
                    });
                }
                Err(e) => {
                    last = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("chromedriver did not answer: {last:?}");
    }

    pub async fn go(&self, url: &str) {
        self.c
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Finds `css`, waiting (bounded) for the page that shows it to load:
    /// a click that submits a form returns before the next page is there.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let mut last = None;
        for _ in 0..300 {
            match self.c.find(Locator::Css(css)).await {
                Ok(e) => return e,
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never appeared: {last:?}");
    }

    /// Runs `act` on the element `css` selects. An element of the page
    /// being left (the find raced a navigation) goes stale before `act`
    /// touched it: it is found again on the page that replaced it.
    async fn on_element<F, Fut>(&self, css: &str, what: &str, act: F)
    where
        F: Fn(fantoccini::elements::Element) -> Fut,
        Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match act(self.find(css).await).await {
                Ok(()) => return,
                Err(e) if tries < 20 && e.to_string().contains("stale element") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{what} {css}: {e}"),
            }
        }
    }

    /// Types `text` into `css`, emptied first.
    pub async fn fill(&self, css: &str, text: &str) {
        self.on_element(css, "fill", |e| async move {
            e.clear().await?;
            e.send_keys(text).await
        })
        .await;
    }

    pub async fn choose(&self, css: &str, value: &str) {
        self.on_element(
            css,
            "select",
            |e| async move { e.select_by_value(value).await },
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, "click", |e| async move { e.click().await.map(|_| ()) })
            .await;
    }

    pub async fn text(&self, css: &str) -> String {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.c.find(Locator::Css(css)).await.is_ok()
    }

    /// Waits (bounded) until `css` exists and its text contains `want`.
    pub async fn wait_text(&self, css: &str, want: &str) -> String {
        let mut last = String::new();
        for _ in 0..300 {
            if let Ok(e) = self.c.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last.contains(want) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{css} never showed {want:?} (last: {last:?})");
    }

    /// The page's address ("" when the browser cannot say).
    pub async fn url(&self) -> String {
        self.c
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    pub async fn title(&self) -> String {
        self.c.title().await.unwrap_or_default()
    }

    /// Presses Tab until the element focused is `#id` (at most 80 times:
    /// a field that Tab never reaches fails the test), as a keyboard user
    /// moves through a page.
    pub async fn tab_to(&self, id: &str) {
        let mut seen = Vec::new();
        for _ in 0..80 {
            let focused = self.focused_id().await;
            if focused == id {
                return;
            }
            seen.push(focused);
            self.keys("\u{E004}").await;
        }
        panic!("Tab never reaches #{id}; it went through {seen:?}");
    }

    /// The id of the element that has the keyboard's focus ("" for none).
    pub async fn focused_id(&self) -> String {
        self.c
            .execute(
                "return document.activeElement ? document.activeElement.id : ''",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Types `keys` into whatever has the focus (WebDriver key codes:
    /// `\u{E004}` Tab, `\u{E007}` Enter, `\u{E00D}` Space).
    pub async fn keys(&self, keys: &str) {
        let focused = self
            .c
            .active_element()
            .await
            .unwrap_or_else(|e| panic!("no focused element: {e}"));
        focused
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("type {keys:?}: {e}"));
    }

    /// Keeps a screenshot of the page as `name`, and has axe-core check it.
    pub async fn shot(&self, name: &str) {
        if let Ok(png) = self.c.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{name}.png")), png);
        }
        self.accessible(name).await;
    }

    /// Runs axe-core (from the npm registry; `scripts/axe.sh` fetches it)
    /// in the page: a serious or critical violation fails the test, named
    /// with the elements it found. Outside CI a missing axe-core skips the
    /// check loudly; under CI it fails.
    pub async fn accessible(&self, name: &str) {
        let Some(text) = self.violations(name).await else {
            return;
        };
        if std::env::var("BUTLER_AXE_REPORT").is_ok() {
            eprintln!("AXE {name}: {text}");
            return;
        }
        assert_eq!(text, "[]", "{name}: accessibility violations");
    }

    /// axe-core's serious and critical violations on the page, as JSON
    /// (`[]`: none); `None` when axe-core is not there (outside CI).
    ///
    /// A live page reloads itself (a migration's progress when its run
    /// ends, a request being provisioned): a reload under axe-core ends
    /// its run unanswered, so the check waits for the page to load and runs
    /// again, a few times at most.
    pub async fn violations(&self, name: &str) -> Option<String> {
        let axe = axe_source()?;
        let mut last = None;
        for _ in 0..5 {
            match self.axe_once(&axe).await {
                Ok(found) => return Some(found),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            for _ in 0..100 {
                let ready = self
                    .c
                    .execute("return document.readyState", vec![])
                    .await
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
                if ready.as_deref() == Some("complete") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        panic!("{name}: axe-core did not answer: {last:?}");
    }

    /// One axe-core run on the page as it is (loaded first).
    async fn axe_once(&self, axe: &str) -> Result<String, fantoccini::error::CmdError> {
        self.c.execute(axe, vec![]).await?;
        let found = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then(r => done(JSON.stringify(r.violations
                      .filter(v => v.impact === 'serious' || v.impact === 'critical')
                      .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                   nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) })))))
                   .catch(e => done('axe failed: ' + e));",
                vec![],
            )
            .await?;
        Ok(found.as_str().unwrap_or("").to_string())
    }

    pub async fn login(&self, base: &str, user: &str, password: &str) {
        self.go(&format!("{base}/login")).await;
        self.accessible("login").await;
        self.fill("#user", user).await;
        self.fill("#password", password).await;
        self.click("#login-button").await;
        self.wait_text("header nav", user).await;
    }

    pub async fn logout(&self) {
        self.click("header form button").await;
        for _ in 0..100 {
            if self.exists("#login-button").await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.c
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_string())
    }

    pub async fn close(mut self) {
        let _ = self.c.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
