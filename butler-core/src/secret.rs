//! Secret keys (validation-token signing): 32 random bytes that never print.

/// A secret key kept by the store. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub(crate) [u8; 32]);

impl SecretKey {
    /// Wraps key bytes (for store implementations).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }

    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<Self, crate::store::StoreError> {
        let mut k = [0u8; 32];
        getrandom::getrandom(&mut k).map_err(|e| {
            crate::store::StoreError::Backend(
                format!("no random source for a secret key: {e}").into(),
            )
        })?;
        Ok(SecretKey(k))
    }

    /// The bytes (for store implementations that persist them).
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}
