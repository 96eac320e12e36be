//! vCenter's faults as Butler's error kinds.

use butler_core::backend::{BackendError, ErrorKind};

/// A failed vim25 call: the fault vCenter named (if it answered one) and
/// Butler's kind for it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct VsphereError {
    /// Butler's kind.
    pub kind: ErrorKind,
    /// The vim25 fault type (`ManagedObjectNotFound`, `InvalidPowerState`,
    /// …), when vCenter answered one.
    pub fault: Option<String>,
    /// What happened, for people.
    pub message: String,
    #[source]
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl VsphereError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> VsphereError {
        VsphereError {
            kind,
            fault: None,
            message: message.into(),
            cause: None,
        }
    }

    /// The error a SOAP fault means: its type picks the kind, its
    /// `faultstring` is the message.
    pub fn from_fault(fault: &str, faultstring: &str) -> VsphereError {
        VsphereError {
            kind: kind_of_fault(fault),
            fault: Some(fault.to_string()),
            message: format!("vCenter fault {fault}: {faultstring}"),
            cause: None,
        }
    }

    /// With the error that caused it.
    pub fn caused_by(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.cause = Some(Box::new(e));
        self
    }

    /// As the core's error, for `operation`.
    pub fn into_backend(self, operation: &str) -> BackendError {
        let (kind, message) = (self.kind, self.message.clone());
        BackendError::new(kind, operation, message).with_source(self)
    }
}

/// The kind of a vim25 fault, by its type (`xsi:type` of the fault's
/// detail, without the `Fault` suffix the element name carries).
pub fn kind_of_fault(fault: &str) -> ErrorKind {
    match fault {
        "ManagedObjectNotFound" | "NotFound" | "FileNotFound" => ErrorKind::NotFound,
        "InvalidLogin" | "NotAuthenticated" | "NoPermission" | "RestrictedVersion" => {
            ErrorKind::Unauthorized
        }
        "DuplicateName"
        | "AlreadyExists"
        | "InvalidPowerState"
        | "InvalidState"
        | "ConcurrentAccess"
        | "TaskInProgress"
        | "DisallowedOperationOnFailoverHostFault" => ErrorKind::Conflict,
        "HostCommunication" | "HostNotConnected" | "HostNotReachable" | "RequestCanceled"
        | "SystemError" | "NotEnoughLicenses" => ErrorKind::Transient,
        "Timedout" => ErrorKind::Timeout,
        "NotSupported" | "NotImplemented" | "MethodNotFound" => ErrorKind::Unsupported,
        "InvalidArgument"
        | "InvalidRequest"
        | "InvalidName"
        | "InvalidType"
        | "InvalidDeviceSpec"
        | "InvalidDatastore"
        | "InvalidProperty"
        | "InvalidCollectorVersion"
        | "VmConfigFault"
        | "CustomizationFault"
        | "InsufficientResourcesFault"
        | "OutOfBounds" => ErrorKind::Invalid,
        _ => ErrorKind::Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_map_to_kinds_a_caller_can_act_on() {
        assert_eq!(kind_of_fault("ManagedObjectNotFound"), ErrorKind::NotFound);
        assert_eq!(kind_of_fault("InvalidPowerState"), ErrorKind::Conflict);
        assert_eq!(kind_of_fault("DuplicateName"), ErrorKind::Conflict);
        assert!(kind_of_fault("HostCommunication").is_retryable());
        assert!(kind_of_fault("Timedout").is_retryable());
        assert_eq!(kind_of_fault("NotSupported"), ErrorKind::Unsupported);
        assert_eq!(kind_of_fault("InvalidArgument"), ErrorKind::Invalid);
        assert_eq!(kind_of_fault("SomethingNew"), ErrorKind::Permanent);
        let e = VsphereError::from_fault("InvalidLogin", "Login failure");
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert!(e.to_string().contains("InvalidLogin") && e.to_string().contains("Login failure"));
    }
}
