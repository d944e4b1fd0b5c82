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
