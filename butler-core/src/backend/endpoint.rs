//! The one check of an adapter's endpoint URL from its configuration.

/// Refuses an endpoint URL `url` (of the configuration entry `endpoint`)
/// that is not `https://` (`http://` only with `allow_plain_http`: the
/// credentials would travel in clear) or that carries a user name or
/// password (they belong in the user name and the environment variable);
/// the error names the entry and says what to do.
///
/// ```
/// use butler_core::backend::check_endpoint_url;
/// assert!(check_endpoint_url("vcenter", "https://vc.example.com/sdk", false).is_ok());
/// assert!(check_endpoint_url("vcenter", "http://vc/sdk", false).unwrap_err().contains("allow_plain_http"));
/// assert!(check_endpoint_url("vcenter", "http://vc/sdk", true).is_ok());
/// assert!(check_endpoint_url("vcenter", "https://u:p@vc/sdk", false).is_err());
/// assert!(check_endpoint_url("vcenter", "vc/sdk", false).is_err());
/// ```
pub fn check_endpoint_url(endpoint: &str, url: &str, allow_plain_http: bool) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        if !allow_plain_http {
            return Err(format!(
                "{endpoint}: {url:?} is plain http, so credentials would travel in clear; use https:// or set allow_plain_http = true"
            ));
        }
        r
    } else {
        return Err(format!("{endpoint}: url {url:?} must start with https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!(
            "{endpoint}: put no user name or password in the url; use username and the environment variable"
        ));
    }
    Ok(())
}
