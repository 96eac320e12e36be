//! TLS to PostgreSQL over rustls, with libpq's `sslmode` and `sslrootcert`
//! read from the connection string (tokio-postgres itself knows only
//! `disable`, `prefer` and `require`, and verifies nothing). The modes are
//! in the crate's documentation.

use butler_core::store::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the store's connections use TLS: libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never.
    Disable,
    /// When the server offers it; the certificate is not verified.
    Prefer,
    /// Always; the certificate is verified only against a given
    /// `sslrootcert`.
    Require,
    /// Always, with the certificate's chain verified.
    VerifyCa,
    /// Always, with the chain and the host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(v: &str) -> Result<SslMode, StoreError> {
        Ok(match v {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(invalid(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        })
    }

    /// What tokio-postgres is told: whether TLS is asked, and required.
    pub(crate) fn wire(self) -> WireMode {
        match self {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        }
    }
}

fn invalid(why: String) -> StoreError {
    StoreError::Backend(format!("the PostgreSQL connection string: {why}").into())
}

/// A connection string with Butler's TLS settings taken out: what is
/// left goes to tokio-postgres.
#[derive(PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) rest: String,
    pub(crate) mode: SslMode,
    pub(crate) root: Option<PathBuf>,
}

impl std::fmt::Debug for Link {
    // The rest holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("mode", &self.mode)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// Reads `sslmode` and `sslrootcert` out of a URL
    /// (`postgres://…?sslmode=verify-full&sslrootcert=/etc/ca.pem`) or a
    /// `key=value` string; errors never quote the string.
    pub(crate) fn parse(url: &str) -> Result<Link, StoreError> {
        let (rest, pairs) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            split_url(url)
        } else {
            split_pairs(url)?
        };
        let mut link = Link {
            rest,
            mode: SslMode::Prefer,
            root: None,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "sslmode" => link.mode = SslMode::parse(&v)?,
                _ => link.root = Some(PathBuf::from(v)),
            }
        }
        Ok(link)
    }

    /// The TLS connector for this link's mode and roots.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, StoreError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let root = self.root.as_ref();
        let verifier: Arc<dyn ServerCertVerifier> = match self.mode {
            SslMode::VerifyFull => self.webpki(root, &provider)?,
            SslMode::VerifyCa => Arc::new(ChainOnly(self.webpki(root, &provider)?)),
            // libpq verifies the chain whenever it is given roots.
            SslMode::Prefer | SslMode::Require if root.is_some() => {
                Arc::new(ChainOnly(self.webpki(root, &provider)?))
            }
            _ => Arc::new(Unverified(provider.signature_verification_algorithms)),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    fn webpki(
        &self,
        root: Option<&PathBuf>,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<WebPkiServerVerifier>, StoreError> {
        let mut roots = RootCertStore::empty();
        match root {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| invalid(format!("sslrootcert {}: {e}", path.display())))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(invalid(format!(
                        "sslrootcert {}: no certificate in it",
                        path.display()
                    )));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(invalid(format!(
                        "sslmode {:?} needs sslrootcert: this system has no root certificates",
                        self.mode
                    )));
                }
            }
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| invalid(format!("TLS roots: {e}")))
    }
}

/// `postgres://…?query`: the query's TLS pairs out, every other pair
/// kept as it was written (tokio-postgres decodes it).
fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), Vec::new());
    };
    let mut ours = Vec::new();
    let mut kept = Vec::new();
    for raw in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = raw.split_once('=').unwrap_or((raw, ""));
        let key = decode(k);
        if is_ours(&key) {
            ours.push((key, decode(v)));
        } else {
            kept.push(raw);
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, ours)
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("k={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn is_ours(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

/// `key=value key2='quoted \' value'`: the TLS pairs out, every other
/// pair written back quoted.
fn split_pairs(s: &str) -> Result<(String, Vec<(String, String)>), StoreError> {
    let mut ours = Vec::new();
    let mut kept = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(invalid(format!("{key:?} has no value")));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(invalid(format!("the value of {key:?} is not closed"))),
                    },
                    Some(c) => value.push(c),
                    None => return Err(invalid(format!("the value of {key:?} is not closed"))),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        if is_ours(&key) {
            ours.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((kept.join(" "), ours))
}

/// `prefer`, and `require` without roots: encrypted, the peer not
/// verified (what libpq does); the handshake's signatures still are.
#[derive(Debug)]
struct Unverified(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca`: the chain verified, the host name not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_gives_its_tls_settings_and_keeps_the_rest() {
        let l = Link::parse(
            "postgres://ana:s3cr%3Ft@db.example:5432/butler?sslmode=verify-full&options=-c%20x%3D1&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(l.mode, SslMode::VerifyFull);
        assert_eq!(l.root, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(
            l.rest,
            "postgres://ana:s3cr%3Ft@db.example:5432/butler?options=-c%20x%3D1"
        );
        let plain = Link::parse("postgresql://h/db").unwrap();
        assert_eq!(
            (plain.mode, plain.rest.as_str()),
            (SslMode::Prefer, "postgresql://h/db")
        );
        let only = Link::parse("postgres://h/db?sslmode=disable").unwrap();
        assert_eq!(
            (only.mode, only.rest.as_str()),
            (SslMode::Disable, "postgres://h/db")
        );
    }

    #[test]
    fn key_value_pairs_give_their_tls_settings_and_keep_the_rest() {
        let l = Link::parse(
            "host=db.example user=ana password='it\\'s a secret' sslmode = verify-ca sslrootcert='/etc/my ca.pem'",
        )
        .unwrap();
        assert_eq!(l.mode, SslMode::VerifyCa);
        assert_eq!(l.root, Some(PathBuf::from("/etc/my ca.pem")));
        assert_eq!(
            l.rest,
            "host='db.example' user='ana' password='it\\'s a secret'"
        );
        // What is kept parses as tokio-postgres reads it, the password whole.
        let c: tokio_postgres::Config = l.rest.parse().unwrap();
        assert_eq!(c.get_password(), Some(&b"it's a secret"[..]));
    }

    #[test]
    fn bad_tls_settings_are_named_without_the_string() {
        for bad in [
            "postgres://ana:hunter2@h/db?sslmode=verify-everything",
            "host=h password=hunter2 sslmode=allowed",
            "host=h password='hunter2",
            "host=h password",
        ] {
            let e = Link::parse(bad).unwrap_err().to_string();
            assert!(e.contains("connection string"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = Link {
            rest: String::new(),
            mode: SslMode::VerifyCa,
            root: Some(PathBuf::from("/nonexistent/ca.pem")),
        }
        .connector()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("sslrootcert /nonexistent/ca.pem"), "{e}");
    }
}
