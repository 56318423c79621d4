//! Random tokens, their hashes, and password hashing.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Fills `buf` from the OS random source. It does not fail on any platform Linli runs on; if
/// it ever did, a predictable token or code would be catastrophic, so the process aborts
/// instead of continuing.
pub fn random_bytes(buf: &mut [u8]) {
    if getrandom::getrandom(buf).is_err() {
        std::process::abort();
    }
}

/// `bytes` random bytes from the OS, as lowercase hex.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    random_bytes(&mut buf);
    hex(&buf)
}

/// A new short code of `kind` (a pass code, a self check-in link) from the OS random source.
pub fn short_code(kind: linli_core::kernel::token::CodeKind) -> String {
    use linli_core::kernel::token::{code_from_random, random_bytes_for};
    loop {
        let mut buf = vec![0u8; random_bytes_for(kind)];
        random_bytes(&mut buf);
        // Runs short only when most of 28 bytes fall in the top 8 of 256: practically never.
        if let Some(code) = code_from_random(kind, &buf) {
            return code;
        }
    }
}

/// SHA-256 of a token, hex: what the database keeps for sessions and API tokens, so a copy
/// of the database does not hand out logins.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Internal(format!("password hashing task failed: {e}")))?
}

/// Checks a password against a stored hash, off the async threads.
pub async fn verify_password(password: String, hash: String) -> Result<bool, StoreError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| StoreError::Internal(format!("stored password hash unreadable: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| StoreError::Internal(format!("password check task failed: {e}")))?
}

/// A hash of a random password, verified against when the account does not exist, so that a
/// login for an unknown name takes as long as one for a known name.
pub async fn dummy_hash() -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async { hash_password(random_token(16)).await.unwrap_or_default() })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token(32);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_token(32));
    }

    #[test]
    fn token_hashes_are_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn equal_strings_compare_equal() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[tokio::test]
    async fn passwords_verify_against_their_argon2id_hash() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), h.clone())
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), h).await.unwrap());
    }
}

/// The keys that protect personal data: AES-256-GCM for ID and phone numbers at rest, and an
/// HMAC-SHA-256 key for the lookup hashes that let search find an exact number without
/// decrypting. Both are derived from one 32-byte master key, which comes from `LINLI_KEY` (64 hex
/// digits) or the file `linli.key` in the data directory (created with mode 0600).
pub struct Keyring {
    cipher: aes_gcm::Aes256Gcm,
    mac_key: [u8; 32],
    fingerprint: String,
}

/// The name of the key file in the data directory.
pub const KEY_FILE: &str = "linli.key";
/// The environment variable that may hold the master key instead.
pub const KEY_VAR: &str = "LINLI_KEY";

type HmacSha256 = hmac::Hmac<Sha256>;

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({})", self.fingerprint)
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        mac.update(p);
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

impl Keyring {
    pub fn from_master(master: &[u8; 32]) -> Keyring {
        use aes_gcm::KeyInit;
        let enc = hmac(master, &[b"linli/encryption/v1"]);
        let mac_key = hmac(master, &[b"linli/lookup/v1"]);
        let fingerprint = hex(&hmac(master, &[b"linli/fingerprint/v1"])[..8]);
        Keyring {
            cipher: aes_gcm::Aes256Gcm::new(&enc.into()),
            mac_key,
            fingerprint,
        }
    }

    /// A fresh random key (tests, and first start).
    pub fn generate() -> (Keyring, String) {
        let hex_key = random_token(32);
        let keys = Keyring::from_hex(&hex_key).unwrap_or_else(|_| Keyring::from_master(&[0; 32]));
        (keys, hex_key)
    }

    pub fn from_hex(s: &str) -> Result<Keyring, StoreError> {
        let s = s.trim();
        let bad = || StoreError::Internal("a Linli key is 64 hexadecimal digits".into());
        if s.len() != 64 {
            return Err(bad());
        }
        let mut master = [0u8; 32];
        for (i, byte) in master.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Keyring::from_master(&master))
    }

    /// The key from `LINLI_KEY`, else from `DIR/linli.key`, else a new one written there with
    /// permissions 0600.
    pub fn load_or_create(dir: &std::path::Path) -> Result<Keyring, StoreError> {
        if let Ok(v) = std::env::var(KEY_VAR) {
            if !v.trim().is_empty() {
                return Keyring::from_hex(&v);
            }
        }
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(s) => Keyring::from_hex(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (keys, hex_key) = Keyring::generate();
                write_private(&path, &hex_key)?;
                tracing::warn!(path = %path.display(), "generated a new encryption key: back it up, personal data cannot be read without it");
                Ok(keys)
            }
            Err(e) => Err(StoreError::Internal(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// A short, non-secret identifier of the key, kept in the database to detect a wrong key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Encrypts a value: a random 96-bit nonce followed by the ciphertext and tag.
    pub fn encrypt(&self, plain: &str) -> Result<Vec<u8>, StoreError> {
        use aes_gcm::aead::Aead;
        let mut nonce = [0u8; 12];
        if getrandom::getrandom(&mut nonce).is_err() {
            std::process::abort();
        }
        let ct = self
            .cipher
            .encrypt(&nonce.into(), plain.as_bytes())
            .map_err(|_| StoreError::Internal("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn decrypt(&self, blob: &[u8]) -> Result<String, StoreError> {
        use aes_gcm::aead::Aead;
        if blob.len() < 12 + 16 {
            return Err(StoreError::Internal("encrypted value too short".into()));
        }
        let (nonce, ct) = blob.split_at(12);
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| StoreError::Internal("bad nonce".into()))?;
        let plain = self.cipher.decrypt(&nonce.into(), ct).map_err(|_| {
            StoreError::Internal("cannot decrypt: wrong key or damaged value".into())
        })?;
        String::from_utf8(plain)
            .map_err(|_| StoreError::Internal("decrypted value is not text".into()))
    }

    /// The keyed hash of a normalised value, for exact lookup (`kind` separates ID numbers from
    /// phones, so equal strings of different kinds never collide).
    pub fn lookup_hash(&self, kind: &str, value: &str) -> String {
        hex(&hmac(&self.mac_key, &[kind.as_bytes(), value.as_bytes()]))
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, contents: &str) -> Result<(), StoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::Internal(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| StoreError::Internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, contents: &str) -> Result<(), StoreError> {
    std::fs::write(path, contents)
        .map_err(|e| StoreError::Internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn values_round_trip_and_differ_each_time() {
        let (k, _) = Keyring::generate();
        let a = k.encrypt("533401198503120011").unwrap();
        let b = k.encrypt("533401198503120011").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(k.decrypt(&a).unwrap(), "533401198503120011");
        let (other, _) = Keyring::generate();
        assert!(other.decrypt(&a).is_err());
        let mut tampered = a.clone();
        tampered[20] ^= 1;
        assert!(k.decrypt(&tampered).is_err());
    }

    #[test]
    fn lookup_hashes_are_keyed_and_separated_by_kind() {
        let (k, hex_key) = Keyring::generate();
        let again = Keyring::from_hex(&hex_key).unwrap();
        assert_eq!(k.lookup_hash("id", "x"), again.lookup_hash("id", "x"));
        assert_eq!(k.fingerprint(), again.fingerprint());
        assert_ne!(k.lookup_hash("id", "x"), k.lookup_hash("phone", "x"));
        let (other, _) = Keyring::generate();
        assert_ne!(k.lookup_hash("id", "x"), other.lookup_hash("id", "x"));
        assert!(Keyring::from_hex("abc").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("linli-key-{}", random_token(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let k1 = Keyring::load_or_create(&dir).unwrap();
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let k2 = Keyring::load_or_create(&dir).unwrap();
        assert_eq!(k1.fingerprint(), k2.fingerprint());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

impl Keyring {
    /// A stored phone number, decrypted and masked for display (`136****8609`). A stored
    /// number was parsed on the way in; should one not parse, all but its last 4 characters
    /// are hidden.
    pub(crate) fn masked_phone(
        &self,
        cipher: Option<Vec<u8>>,
    ) -> Result<Option<String>, StoreError> {
        let Some(c) = cipher else { return Ok(None) };
        let clear = self.decrypt(&c)?;
        Ok(Some(
            linli_core::Phone::parse(&clear)
                .map(|p| p.masked())
                .unwrap_or_else(|_| mask_all_but_last4(&clear)),
        ))
    }
}

/// Every character but the last 4 as `*`.
pub(crate) fn mask_all_but_last4(s: &str) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < n { '*' } else { c })
        .collect()
}
