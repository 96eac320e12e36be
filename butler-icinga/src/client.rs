use crate::config::{ConfigError, IcingaConfig};
use async_trait::async_trait;
use butler_core::backend::{BackendError, ErrorKind, Monitor, MonitorRegistration};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::time::Duration;

/// Largest answer read from Icinga (a host object is a few KiB).
const MAX_BODY_BYTES: usize = 1 << 20;

/// Registers VMs as Icinga2 host objects. Cheap to share (`Arc`); every
/// call has the configured deadline.
pub struct IcingaMonitor {
    http: reqwest::Client,
    base: Url,
    username: String,
    password: SecretString,
    check_command: String,
}

impl std::fmt::Debug for IcingaMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcingaMonitor")
            .field("url", &self.base.as_str())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl IcingaMonitor {
    /// A client for `config`: HTTPS only, certificates verified against
    /// the configured CA (or the usual roots), redirects not followed.
    pub fn new(config: IcingaConfig) -> Result<IcingaMonitor, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)));
        if let Some(path) = &config.ca_cert {
            let ca = |reason: String| ConfigError::Ca {
                path: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| ca(e.to_string()))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| ca(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| ConfigError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        let base =
            Url::parse(&config.url).map_err(|e| ConfigError::Invalid(format!("url: {e}")))?;
        Ok(IcingaMonitor {
            http,
            base,
            username: config.username,
            password: config.password,
            check_command: config.check_command,
        })
    }

    /// Removes the host object of `vm_name` and what hangs on it; a missing
    /// object is success.
    pub async fn deregister(&self, vm_name: &str) -> Result<(), BackendError> {
        let op = "monitor_deregister";
        let mut url = self.host_url(vm_name, op)?;
        url.query_pairs_mut().append_pair("cascade", "1");
        match self.send(op, Method::DELETE, url, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `/v1/objects/hosts/<name>`, the name percent-encoded as one segment.
    fn host_url(&self, name: &str, op: &str) -> Result<Url, BackendError> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                "a host name must be non-empty without control characters",
            ));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| BackendError::new(ErrorKind::Invalid, op, "url cannot take a path"))?
            .clear()
            .extend(["v1", "objects", "hosts", name]);
        Ok(url)
    }

    fn attrs(&self, reg: &MonitorRegistration) -> Value {
        json!({
            "address": reg.address,
            "check_command": self.check_command,
            "display_name": reg.display_name,
            "vars": {
                "butler_request": reg.request,
                "butler_requester": reg.requester,
                "butler_vm_uuid": reg.vm_uuid,
                "butler_cluster": reg.cluster,
                "cost_center": reg.cost_center,
            },
        })
    }

    async fn send(
        &self,
        op: &str,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Value, BackendError> {
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(&self.username, Some(self.password.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| transport(op, e))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| transport(op, e))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!(
                    "Icinga answered {} bytes; at most {MAX_BODY_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(http_error(op, status, &value))
    }
}

/// What Icinga said: `errors[]` of the first result, or `status`.
fn reasons(v: &Value) -> String {
    let first = v.get("results").and_then(|r| r.get(0)).unwrap_or(v);
    let errors: Vec<&str> = first
        .get("errors")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if errors.is_empty() {
        first
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("no details")
            .chars()
            .take(300)
            .collect()
    } else {
        errors.join("; ").chars().take(300).collect()
    }
}

fn http_error(op: &str, status: u16, body: &Value) -> BackendError {
    let kind = ErrorKind::from_http_status(status);
    BackendError::new(
        kind,
        op,
        format!("Icinga answered HTTP {status}: {}", reasons(body)),
    )
}

fn transport(op: &str, e: reqwest::Error) -> BackendError {
    let kind = ErrorKind::unanswered(e.is_timeout());
    BackendError::new(
        kind,
        op,
        format!(
            "cannot reach Icinga: {}",
            butler_core::backend::error_chain(&e)
        ),
    )
    .with_source(e)
}

fn registration_of(vm_name: &str, v: &Value) -> Option<MonitorRegistration> {
    let attrs = v.get("results")?.get(0)?.get("attrs")?;
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let vars = attrs.get("vars").cloned().unwrap_or(Value::Null);
    Some(MonitorRegistration {
        vm_name: vm_name.to_string(),
        vm_uuid: s(&vars, "butler_vm_uuid"),
        cluster: s(&vars, "butler_cluster"),
        address: s(attrs, "address"),
        display_name: s(attrs, "display_name"),
        request: vars
            .get("butler_request")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        requester: s(&vars, "butler_requester"),
        cost_center: s(&vars, "cost_center"),
    })
}

#[async_trait]
impl Monitor for IcingaMonitor {
    async fn find(&self, vm_name: &str) -> Result<Option<MonitorRegistration>, BackendError> {
        let op = "monitor_find";
        let mut url = self.host_url(vm_name, op)?;
        for a in ["address", "display_name", "vars"] {
            url.query_pairs_mut().append_pair("attrs", a);
        }
        match self.send(op, Method::GET, url, None).await {
            Ok(v) => Ok(registration_of(vm_name, &v)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn register(&self, reg: &MonitorRegistration) -> Result<(), BackendError> {
        let op = "monitor_register";
        let url = self.host_url(&reg.vm_name, op)?;
        let attrs = self.attrs(reg);
        match self
            .send(
                op,
                Method::PUT,
                url.clone(),
                Some(json!({ "attrs": attrs })),
            )
            .await
        {
            Ok(_) => return Ok(()),
            // Icinga answers a second create with 500: "Object '…' already
            // exists." after the first, "… re-defined" while both are in
            // flight. Someone (an earlier attempt whose reply was lost, or
            // another engine) got there first: when the object is there,
            // reconcile; otherwise the 500 stands.
            Err(e) if e.kind == ErrorKind::Transient => match self.find(&reg.vm_name).await? {
                Some(existing) if existing == *reg => return Ok(()),
                Some(_) => {}
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
        tracing::info!(vm = %reg.vm_name, "updating the existing Icinga host object");
        match self
            .send(op, Method::POST, url, Some(json!({ "attrs": attrs })))
            .await
        {
            Ok(_) => Ok(()),
            // Seen while a racing create was still being committed: the
            // object read a moment ago is not there to update yet (or no
            // longer). A passing state: the next attempt creates it or
            // finds it.
            Err(e) if e.kind == ErrorKind::NotFound => Err(BackendError::new(
                ErrorKind::Transient,
                op,
                format!("the Icinga host object changed while it was being registered: {e}"),
            )),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /v1/objects/hosts/<name>?cascade=1`: the host and its
    /// services, downtimes and comments. Icinga answers 404 for a host
    /// that is not there.
    async fn deregister(&self, vm_name: &str) -> Result<(), BackendError> {
        let op = "monitor_deregister";
        let mut url = self.host_url(vm_name, op)?;
        url.query_pairs_mut().append_pair("cascade", "1");
        self.send(op, Method::DELETE, url, None).await.map(|_| ())
    }
}
