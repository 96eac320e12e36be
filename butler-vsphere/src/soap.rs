//! One SOAP client of one vCenter: session login (the `vmware_soap_session`
//! cookie), one re-login when a call answers `NotAuthenticated`, jittered
//! retries of calls that may be repeated, faults read as typed errors,
//! answers read no further than `max_body_bytes`.

use crate::config::VsphereConfig;
use crate::error::VsphereError;
use crate::xml::{self, escape, Node};
use butler_core::backend::{Clock, ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The vim25 version Butler speaks (vCenter 6.5 and later answer it).
const VERSION: &str = "urn:vim25/6.5";

/// A managed object reference: its type and its id (`VirtualMachine`,
/// `vm-42`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MoRef {
    /// The managed object's type.
    pub ty: String,
    /// Its id.
    pub value: String,
}

impl MoRef {
    /// A reference to the object `value` of type `ty`.
    pub fn new(ty: &str, value: &str) -> MoRef {
        MoRef {
            ty: ty.to_string(),
            value: value.to_string(),
        }
    }

    /// The reference in `node` (its `type` attribute and text), if it is one.
    pub fn of(node: &Node) -> Option<MoRef> {
        let ty = node.ty.as_deref().or(node.xsi_type.as_deref())?;
        (!node.text.is_empty()).then(|| MoRef::new(ty, &node.text))
    }

    /// The reference as the element `tag`.
    pub fn xml(&self, tag: &str) -> String {
        format!(
            "<{tag} type=\"{}\">{}</{tag}>",
            escape(&self.ty),
            escape(&self.value)
        )
    }
}

/// The service's root objects (`RetrieveServiceContent`).
#[derive(Debug, Clone)]
pub struct ServiceContent {
    /// The inventory's root folder.
    pub root_folder: MoRef,
    /// The property collector.
    pub property_collector: MoRef,
    /// The view manager.
    pub view_manager: MoRef,
    /// The session manager.
    pub session_manager: MoRef,
    /// The custom fields manager.
    pub custom_fields_manager: Option<MoRef>,
}

/// A client of one vCenter.
pub struct Soap {
    http: reqwest::Client,
    url: String,
    username: String,
    password: SecretString,
    service: tokio::sync::OnceCell<ServiceContent>,
    logged_in: AtomicBool,
    /// One login at a time: calls that find the session gone wait for the
    /// one login, not each its own.
    login_gate: tokio::sync::Mutex<()>,
    /// vCenter refused the configured credentials: nothing is sent again
    /// (a locked account is not hammered).
    refused: AtomicBool,
    retry: butler_core::resilience::RetryPolicy,
    max_body: usize,
    clock: Arc<dyn Clock>,
    requests: AtomicU64,
    logins: AtomicU64,
    /// The current session's key (`UserSession.key`), as vCenter lists it.
    session: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for Soap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Soap")
            .field("url", &self.url)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

fn transport(e: reqwest::Error) -> VsphereError {
    VsphereError::new(
        ErrorKind::unanswered(e.is_timeout()),
        format!("transport error: {}", butler_core::backend::error_chain(&e)),
    )
    .caused_by(e)
}

impl Soap {
    /// A client for the configured vCenter (nothing is sent yet).
    pub fn new(config: &VsphereConfig, clock: Arc<dyn Clock>) -> Result<Soap, VsphereError> {
        let mut b = reqwest::Client::builder()
            .cookie_store(true)
            .connect_timeout(config.connect_timeout)
            .timeout(config.read_timeout)
            .user_agent(concat!("butler-vsphere/", env!("CARGO_PKG_VERSION")));
        if config.url.starts_with("http://") {
            tracing::warn!(url = %config.url, "PLAIN HTTP to vCenter (allow_plain_http = true): the password travels in clear");
        }
        if config.insecure {
            tracing::warn!(url = %config.url, "TLS VERIFICATION IS OFF for vCenter (insecure = true); use ca_bundle instead");
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(path) = &config.ca_bundle {
            let invalid = |e: String| {
                VsphereError::new(
                    ErrorKind::Invalid,
                    format!("ca_bundle {}: {e}", path.display()),
                )
            };
            let pem = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
            for cert in
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| invalid(e.to_string()))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        let http = b.build().map_err(|e| {
            VsphereError::new(
                ErrorKind::Invalid,
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
        Ok(Soap {
            http,
            url: config.url.clone(),
            username: config.username.clone(),
            password: config.password.clone(),
            service: tokio::sync::OnceCell::new(),
            logged_in: AtomicBool::new(false),
            login_gate: tokio::sync::Mutex::new(()),
            refused: AtomicBool::new(false),
            retry: butler_core::resilience::RetryPolicy {
                max_attempts: config.max_retries.saturating_add(1),
                base_delay: config.retry_base,
                max_delay: config.retry_base.saturating_mul(1 << 10),
                step_deadline: Duration::MAX,
            },
            max_body: config.max_body_bytes.max(1024),
            clock,
            requests: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            session: std::sync::Mutex::new(None),
        })
    }

    /// HTTP requests sent so far (logins and retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Logins so far.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// The key of the current session, as vCenter's `SessionManager`
    /// lists it (for an administrator matching sessions to clients).
    pub fn session_key(&self) -> Option<String> {
        self.session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|_| self.logged_in.load(Ordering::SeqCst))
    }

    /// The clock the client waits on.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The service's root objects, read once.
    pub async fn service(&self) -> Result<&ServiceContent, VsphereError> {
        self.service
            .get_or_try_init(|| async {
                let si = MoRef::new("ServiceInstance", "ServiceInstance");
                let r = self.post("RetrieveServiceContent", &si, "").await?;
                let rv = r.child("returnval").ok_or_else(|| {
                    VsphereError::new(
                        ErrorKind::Permanent,
                        "RetrieveServiceContent answered nothing",
                    )
                })?;
                let get = |name: &str| {
                    rv.child(name).and_then(MoRef::of).ok_or_else(|| {
                        VsphereError::new(
                            ErrorKind::Permanent,
                            format!("the service content names no {name}"),
                        )
                    })
                };
                Ok(ServiceContent {
                    root_folder: get("rootFolder")?,
                    property_collector: get("propertyCollector")?,
                    view_manager: get("viewManager")?,
                    session_manager: get("sessionManager")?,
                    custom_fields_manager: rv.child("customFieldsManager").and_then(MoRef::of),
                })
            })
            .await
    }

    /// Logs in, unless a call since the session was lost has done it.
    async fn login(&self) -> Result<(), VsphereError> {
        let _one = self.login_gate.lock().await;
        if self.logged_in.load(Ordering::SeqCst) {
            return Ok(());
        }
        if self.refused.load(Ordering::SeqCst) {
            return Err(refused());
        }
        let sm = self.service().await?.session_manager.clone();
        let args = format!(
            "<userName>{}</userName><password>{}</password>",
            escape(&self.username),
            escape(self.password.expose_secret())
        );
        self.logins.fetch_add(1, Ordering::Relaxed);
        match self.post("Login", &sm, &args).await {
            Ok(answer) => {
                let key = answer.text_at(&["returnval", "key"]).to_string();
                *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
                self.logged_in.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(e) if e.fault.as_deref() == Some("InvalidLogin") => {
                self.refused.store(true, Ordering::SeqCst);
                tracing::error!(url = %self.url, user = %self.username, "vCenter refused the configured credentials; nothing more is sent until the configuration changes");
                Err(refused())
            }
            Err(e) => Err(e),
        }
    }

    /// Ends the session (vCenter keeps few per user: a long-lived process
    /// logs out when it stops). The next call logs in again.
    pub async fn logout(&self) -> Result<(), VsphereError> {
        if !self.logged_in.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let sm = self.service().await?.session_manager.clone();
        self.post("Logout", &sm, "").await.map(drop)
    }

    /// Calls `method` on `this` with `args` (the XML of its parameters
    /// after `_this`) in a session; answers the `…Response` element. A
    /// session vCenter forgot is renewed once; `idempotent` calls are
    /// retried on passing failures.
    pub async fn call(
        &self,
        method: &str,
        this: &MoRef,
        args: &str,
        idempotent: bool,
    ) -> Result<Node, VsphereError> {
        let mut relogged = false;
        let mut attempt = 0u32;
        loop {
            if !self.logged_in.load(Ordering::SeqCst) {
                self.login().await?;
            }
            match self.post(method, this, args).await {
                Err(e) if e.fault.as_deref() == Some("NotAuthenticated") && !relogged => {
                    relogged = true;
                    self.logged_in.store(false, Ordering::SeqCst);
                    tracing::info!(url = %self.url, "the vCenter session ended; logging in again");
                }
                Err(e)
                    if idempotent
                        && e.kind.is_retryable()
                        && attempt + 1 < self.retry.max_attempts =>
                {
                    attempt += 1;
                    let delay = self
                        .retry
                        .delay(attempt, butler_core::resilience::salt(method));
                    tracing::debug!(url = %self.url, method, attempt, error = %e, "retrying after");
                    self.clock.sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    /// One POST of the envelope; a fault is an error.
    async fn post(&self, method: &str, this: &MoRef, args: &str) -> Result<Node, VsphereError> {
        if self.refused.load(Ordering::SeqCst) {
            return Err(refused());
        }
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
             <soapenv:Body><{method} xmlns=\"urn:vim25\">{}{args}</{method}></soapenv:Body></soapenv:Envelope>",
            this.xml("_this")
        );
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .post(&self.url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", VERSION)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let mut err = transport(e);
                err.message = format!("{method}: {}", err.message);
                err
            })?;
        let status = resp.status().as_u16();
        let text = self.read_capped(resp).await?;
        let doc = match xml::parse(&text) {
            Ok(doc) => doc,
            Err(e) if status >= 400 => {
                return Err(VsphereError::new(
                    ErrorKind::from_http_status(status),
                    format!("vCenter answered HTTP {status} without a SOAP fault"),
                )
                .caused_by(e))
            }
            Err(e) => return Err(VsphereError::new(ErrorKind::Permanent, e.to_string())),
        };
        let body = doc.child("Body").ok_or_else(|| {
            VsphereError::new(
                ErrorKind::Permanent,
                format!("vCenter's answer to {method} has no SOAP body (HTTP {status})"),
            )
        })?;
        if let Some(fault) = body.child("Fault") {
            return Err(fault_error(fault));
        }
        if status >= 400 {
            return Err(VsphereError::new(
                ErrorKind::from_http_status(status),
                format!("vCenter answered HTTP {status} to {method}"),
            ));
        }
        // `setCustomValue` is answered `setCustomValueResponse` by vCenter
        // and `SetCustomValueResponse` by vcsim: the case is not the point.
        let want = format!("{method}Response");
        body.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&want))
            .cloned()
            .ok_or_else(|| {
                VsphereError::new(
                    ErrorKind::Permanent,
                    format!("vCenter's answer to {method} has no {want}"),
                )
            })
    }

    /// Reads a body chunk by chunk, refusing (not allocating) past the cap.
    async fn read_capped(&self, mut resp: reqwest::Response) -> Result<String, VsphereError> {
        let too_big = |n: u64| {
            VsphereError::new(
                ErrorKind::Permanent,
                format!(
                    "answer of {n} bytes or more is above max_body_bytes = {}",
                    self.max_body
                ),
            )
        };
        if let Some(n) = resp.content_length().filter(|n| *n > self.max_body as u64) {
            return Err(too_big(n));
        }
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if buf.len() + chunk.len() > self.max_body {
                return Err(too_big((buf.len() + chunk.len()) as u64));
            }
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf)
            .map_err(|_| VsphereError::new(ErrorKind::Permanent, "vCenter's answer is not UTF-8"))
    }
}

/// The error a `soapenv:Fault` means: the fault's type is the `xsi:type`
/// of the detail's element (`<InvalidLoginFault xsi:type="InvalidLogin">`),
/// else its name without `Fault`.
pub fn fault_error(fault: &Node) -> VsphereError {
    let faultstring = fault.text_at(&["faultstring"]);
    let detail = fault.child("detail").and_then(|d| d.children.first());
    let ty = detail
        .and_then(|d| d.xsi_type.clone())
        .or_else(|| detail.map(|d| d.name.trim_end_matches("Fault").to_string()))
        .unwrap_or_else(|| "Unknown".into());
    let ty = ty.rsplit(':').next().unwrap_or(&ty).to_string();
    let mut e = VsphereError::from_fault(&ty, faultstring);
    if ty == "ManagedObjectNotFound" {
        // The object named is in the detail.
        let obj = detail.map(|d| d.text_at(&["obj"])).unwrap_or_default();
        if !obj.is_empty() {
            e.message = format!("{} ({obj})", e.message);
        }
    }
    e
}

/// The answer to every call once vCenter refused the configured credentials.
fn refused() -> VsphereError {
    VsphereError::new(
        ErrorKind::Unauthorized,
        "vCenter refused the configured credentials; fix them and restart (nothing more is sent until then)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_read_by_its_detail_type() {
        let doc = xml::parse(r#"<soapenv:Envelope xmlns:soapenv="s" xmlns:xsi="x"><soapenv:Body><soapenv:Fault>
            <faultcode>ServerFaultCode</faultcode><faultstring>The object has already been deleted</faultstring>
            <detail><ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound">
            <obj type="Task">task-9</obj></ManagedObjectNotFoundFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#).unwrap();
        let e = fault_error(doc.at(&["Body", "Fault"]).unwrap());
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.fault.as_deref(), Some("ManagedObjectNotFound"));
        assert!(e.message.contains("task-9"), "{e}");
        let bare = xml::parse(
            "<F><faultstring>x</faultstring><detail><NotAuthenticatedFault/></detail></F>",
        )
        .unwrap();
        assert_eq!(
            fault_error(&bare).fault.as_deref(),
            Some("NotAuthenticated")
        );
    }

    #[test]
    fn a_reference_is_written_escaped_and_read_back() {
        let r = MoRef::new("VirtualMachine", "vm-<1>");
        let node = xml::parse(&r.xml("obj")).unwrap();
        assert_eq!(MoRef::of(&node), Some(r));
    }
}
