//! UUID-shaped text (`8-4-4-4-12` lowercase hex), the form platforms take
//! ids and request ids in: one writer for Butler's keys, the adapters'
//! request ids and the simulator's ids.

/// `bytes` as UUID-shaped text, as they are.
///
/// ```
/// use butler_core::backend::uuid_text;
/// assert_eq!(uuid_text([0xab; 16]), "abababab-abab-abab-abab-abababababab");
/// ```
pub fn uuid_text(bytes: [u8; 16]) -> String {
    let h: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `bytes` (a digest, say) as an RFC 9562 version 8 UUID: the version and
/// variant bits set, the rest kept.
///
/// ```
/// use butler_core::backend::uuid_v8;
/// let id = uuid_v8([0; 16]);
/// assert_eq!(id, "00000000-0000-8000-8000-000000000000");
/// ```
pub fn uuid_v8(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid_text(bytes)
}
