//! Secrets at rest: AES-256-GCM with a random 96-bit nonce per value, the key in
//! `DIR/secret.key` (mode 0600). The additional data binds each ciphertext to its object
//! path and secret name, so a ciphertext copied to another row does not decrypt.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use rusqlite::OptionalExtension;
use zeroize::Zeroizing;

use crate::{Result, StoreError, Tx};

/// Name of the key file in the data directory.
pub const KEY_FILE: &str = "secret.key";
const KEY_LEN: usize = 32;
const FORMAT_V1: u8 = 1;

/// Encrypts and decrypts stored secrets.
pub struct SecretCipher {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl SecretCipher {
    /// Load the key file, creating it (mode 0600) with a fresh random key if absent.
    pub fn load_or_create(path: &Path) -> Result<SecretCipher> {
        let io = |what: &'static str| {
            let path = path.to_owned();
            move |source| StoreError::Io { what, path, source }
        };
        let rng = SystemRandom::new();
        let bytes: Zeroizing<Vec<u8>> = match std::fs::read(path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new(vec![0u8; KEY_LEN]);
                rng.fill(&mut key)
                    .map_err(|_| StoreError::BadKeyFile(path.to_owned()))?;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts
                    .open(path)
                    .map_err(io("cannot create secret key file"))?;
                f.write_all(&key)
                    .map_err(io("cannot write secret key file"))?;
                f.sync_all().map_err(io("cannot sync secret key file"))?;
                key
            }
            Err(e) => return Err(io("cannot read secret key file")(e)),
        };
        if bytes.len() != KEY_LEN {
            return Err(StoreError::BadKeyFile(path.to_owned()));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| StoreError::BadKeyFile(path.to_owned()))?;
        Ok(SecretCipher {
            key: LessSafeKey::new(unbound),
            rng,
        })
    }

    fn aad(path: &str, name: &str) -> Vec<u8> {
        let mut aad = b"strait-secret-v1\0".to_vec();
        aad.extend_from_slice(path.as_bytes());
        aad.push(0);
        aad.extend_from_slice(name.as_bytes());
        aad
    }

    /// Encrypt: `version(1) || nonce(12) || ciphertext || tag(16)`.
    pub fn seal(&self, path: &str, name: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| StoreError::SecretUndecryptable(path.to_owned()))?;
        let mut buf = Zeroizing::new(plaintext.to_vec());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(path, name)),
                &mut *buf,
            )
            .map_err(|_| StoreError::SecretUndecryptable(path.to_owned()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypt what [`SecretCipher::seal`] produced for the same path and name.
    pub fn open(&self, path: &str, name: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let bad = || StoreError::SecretUndecryptable(path.to_owned());
        let (&version, rest) = sealed.split_first().ok_or_else(bad)?;
        if version != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .key
            .open_in_place(nonce, Aad::from(Self::aad(path, name)), &mut buf)
            .map_err(|_| bad())?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// Where the key check value lives in `meta`: a constant sealed with the key, so that a
/// key file that does not belong to the database is noticed when the store is opened,
/// not later when some session's PSK fails to decrypt and its tunnel silently stays down.
const KEY_CHECK_META: &str = "secret_key_check";
const KEY_CHECK_PATH: &str = "strait:secret-key-check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"strait secret.key check v1";

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether the database holds anything sealed with a key (a check value or a secret).
pub(crate) fn holds_sealed_data(conn: &rusqlite::Connection) -> Result<bool> {
    let check: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [KEY_CHECK_META],
            |r| r.get(0),
        )
        .optional()?;
    let any_secret = conn
        .query_row("SELECT 1 FROM secrets LIMIT 1", [], |_| Ok(()))
        .optional()?
        .is_some();
    Ok(check.is_some() || any_secret)
}

/// Check that `cipher` is the key this database's secrets were sealed with, and record
/// the check value if the database has none yet (new, or written by an older strait).
pub(crate) fn verify_key(
    conn: &rusqlite::Connection,
    cipher: &SecretCipher,
    key_path: &Path,
    db_path: &Path,
) -> Result<()> {
    let mismatch = || StoreError::KeyMismatch {
        key: key_path.to_owned(),
        db: db_path.to_owned(),
    };
    let check: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [KEY_CHECK_META],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(check) = check {
        let sealed = from_hex(&check).ok_or_else(mismatch)?;
        let plain = cipher
            .open(KEY_CHECK_PATH, KEY_CHECK_META, &sealed)
            .map_err(|_| mismatch())?;
        if plain.as_slice() != KEY_CHECK_PLAINTEXT {
            return Err(mismatch());
        }
        return Ok(());
    }
    // No check value yet: the key fits if it opens at least one stored secret (or there
    // are none). A single damaged row is not a wrong key; reading it fails on its own.
    let mut stmt = conn.prepare("SELECT path, name, ciphertext FROM secrets")?;
    let mut rows = stmt.query([])?;
    let mut seen = false;
    let mut opened = false;
    while let Some(row) = rows.next()? {
        seen = true;
        let (path, name, sealed): (String, String, Vec<u8>) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        if cipher.open(&path, &name, &sealed).is_ok() {
            opened = true;
            break;
        }
    }
    if seen && !opened {
        return Err(mismatch());
    }
    let sealed = cipher.seal(KEY_CHECK_PATH, KEY_CHECK_META, KEY_CHECK_PLAINTEXT)?;
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
        [KEY_CHECK_META, &to_hex(&sealed)],
    )?;
    Ok(())
}

impl Tx<'_> {
    /// A stored secret, decrypted.
    pub fn secret(&self, path: &str, name: &str) -> Result<Option<Zeroizing<String>>> {
        let sealed: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT ciphertext FROM secrets WHERE path = ?1 AND name = ?2",
                [path, name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = self.cipher.open(path, name, &sealed)?;
        let s = std::str::from_utf8(&plain)
            .map_err(|_| StoreError::SecretUndecryptable(path.to_owned()))?;
        Ok(Some(Zeroizing::new(s.to_owned())))
    }

    /// Whether a secret is stored.
    pub fn has_secret(&self, path: &str, name: &str) -> Result<bool> {
        Ok(self
            .tx
            .query_row(
                "SELECT 1 FROM secrets WHERE path = ?1 AND name = ?2",
                [path, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Store (replace) a secret. The object row must exist.
    pub fn set_secret(&self, path: &str, name: &str, value: &str) -> Result<()> {
        let sealed = self.cipher.seal(path, name, value.as_bytes())?;
        self.tx.execute(
            "INSERT OR REPLACE INTO secrets(path, name, ciphertext) VALUES (?1, ?2, ?3)",
            rusqlite::params![path, name, sealed],
        )?;
        Ok(())
    }

    /// Remove a secret.
    pub fn delete_secret(&self, path: &str, name: &str) -> Result<()> {
        self.tx.execute(
            "DELETE FROM secrets WHERE path = ?1 AND name = ?2",
            [path, name],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_binding() {
        let dir = tempfile::tempdir().unwrap();
        let c = SecretCipher::load_or_create(&dir.path().join(KEY_FILE)).unwrap();
        let sealed = c.seal("/infra/a", "psk", b"s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(&*c.open("/infra/a", "psk", &sealed).unwrap(), b"s3cret");
        assert!(c.open("/infra/b", "psk", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(c.open("/infra/a", "psk", &tampered).is_err());
    }

    #[test]
    fn key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let a = SecretCipher::load_or_create(&path).unwrap();
        let sealed = a.seal("/p", "n", b"v").unwrap();
        let b = SecretCipher::load_or_create(&path).unwrap();
        assert_eq!(&*b.open("/p", "n", &sealed).unwrap(), b"v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_key_from_another_data_directory_is_refused_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        crate::Store::open(dir.path()).unwrap();
        crate::Store::open(other.path()).unwrap();
        std::fs::copy(other.path().join(KEY_FILE), dir.path().join(KEY_FILE)).unwrap();
        let err = crate::Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::KeyMismatch { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("secret.key") && msg.contains("strait.db"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_key_is_not_regenerated_over_existing_secrets() {
        let dir = tempfile::tempdir().unwrap();
        crate::Store::open(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        assert!(matches!(
            crate::Store::open(dir.path()),
            Err(StoreError::KeyMissing { .. })
        ));
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 0xab, 0xff])).unwrap(),
            vec![0, 1, 0xab, 0xff]
        );
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
    }

    #[test]
    fn damaged_key_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            SecretCipher::load_or_create(&path),
            Err(StoreError::BadKeyFile(_))
        ));
    }
}
