//! The single error type of this crate.
//!
//! Every message is written for an operator who pasted something into the
//! management API: it says what is wrong and what to change.

/// Everything that can go wrong while importing certificates, keys and CRLs
/// or while parsing distinguished names.
///
/// Indexes in messages are 1-based ("certificate 1" is the first PEM block,
/// i.e. the leaf).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The input is larger than this crate accepts.
    #[error(
        "the {what} is {size} bytes, more than the {max} bytes accepted: paste only the PEM \
         blocks that are needed"
    )]
    InputTooLarge {
        /// Which field ("certificate PEM", "private key PEM", ...).
        what: &'static str,
        /// Size of the input in bytes.
        size: usize,
        /// Maximum accepted size in bytes.
        max: usize,
    },

    /// The PEM text could not be decoded (framing, base64, headers).
    #[error(
        "the {what} is not valid PEM ({detail}): paste each complete block including its \
         -----BEGIN ...----- and -----END ...----- lines, without changing the base64 text"
    )]
    MalformedPem {
        /// Which field ("certificate PEM", "private key PEM", ...).
        what: &'static str,
        /// What the PEM decoder reported.
        detail: String,
    },

    /// The certificate field holds no `CERTIFICATE` block at all.
    #[error(
        "the PEM holds no certificate: paste the certificate (and its chain) as \
         -----BEGIN CERTIFICATE----- blocks"
    )]
    NoCertificate,

    /// The certificate field holds a block that is not a certificate.
    #[error(
        "PEM block {index} is a \"{tag}\" block, but only CERTIFICATE blocks are accepted in the \
         certificate field: remove it and paste only -----BEGIN CERTIFICATE----- blocks"
    )]
    UnexpectedPemBlock {
        /// 1-based position of the block.
        index: usize,
        /// The PEM label, e.g. `CERTIFICATE REQUEST`.
        tag: String,
    },

    /// A private key was pasted into the certificate field.
    #[error(
        "PEM block {index} is a private key (\"{tag}\"): put the private key in the private_key \
         field and keep only -----BEGIN CERTIFICATE----- blocks in the certificate field"
    )]
    PrivateKeyInCertificate {
        /// 1-based position of the block.
        index: usize,
        /// The PEM label, e.g. `RSA PRIVATE KEY`.
        tag: String,
    },

    /// More certificates than accepted.
    #[error(
        "the PEM holds {count} certificates, but at most {max} are accepted: keep the leaf \
         certificate and the CA certificates that issued it, nothing else"
    )]
    TooManyCertificates {
        /// Number of certificates found.
        count: usize,
        /// Maximum number accepted.
        max: usize,
    },

    /// A `CERTIFICATE` block that does not hold a valid X.509 certificate.
    #[error(
        "certificate {index} is not a valid X.509 certificate ({reason}): export it again as a \
         PEM (base64 DER) X.509 v3 certificate"
    )]
    InvalidCertificate {
        /// 1-based position of the certificate.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// The same certificate appears twice.
    #[error(
        "certificate {index} ({subject}) is the same certificate as certificate {first}: paste \
         each certificate of the chain only once"
    )]
    DuplicateCertificate {
        /// 1-based position of the repeated certificate.
        index: usize,
        /// 1-based position of its first occurrence.
        first: usize,
        /// Its subject DN.
        subject: String,
    },

    /// A certificate or CRL is signed with an algorithm that is not accepted
    /// (SHA-1, MD5, SHA-224, DSA, unknown ...).
    #[error(
        "{what} is signed with {algorithm}, which is not accepted: NSX/strait require \
         SHA256/384/512withRSA or ECDSA (RSASSA-PSS with SHA-2 and Ed25519 are also accepted); \
         have it re-issued with a SHA-256 (or stronger) signature"
    )]
    WeakSignatureAlgorithm {
        /// E.g. `certificate 1 (CN=site1)` or `the CRL`.
        what: String,
        /// Name of the signature algorithm, e.g. `SHA1withRSA`.
        algorithm: String,
    },

    /// The public key of a certificate is of a kind or size that is not accepted.
    #[error(
        "{what} has {reason}: use a certificate with an RSA key of 2048 to 16384 bits, an EC \
         key on P-256, P-384 or P-521, or an Ed25519 key"
    )]
    UnsupportedPublicKey {
        /// E.g. `certificate 2 (CN=Issuing CA)`.
        what: String,
        /// What is wrong, e.g. `a 1024-bit RSA key`.
        reason: String,
    },

    /// Certificate `index` was not issued by the next certificate, but by another
    /// one in the PEM.
    #[error(
        "the certificate chain is out of order: certificate {index} ({subject}) is issued by \
         certificate {issuer_index}, not by certificate {next}: order the PEM blocks leaf \
         first, then the CA that issued it, then that CA's issuer, and so on"
    )]
    ChainOutOfOrder {
        /// 1-based position of the certificate whose issuer is misplaced.
        index: usize,
        /// Its subject DN.
        subject: String,
        /// 1-based position where its issuer actually is.
        issuer_index: usize,
        /// `index + 1`.
        next: usize,
    },

    /// Certificate `index + 1` was issued by certificate `index`: the issuer
    /// comes before the certificate it issued.
    #[error(
        "the certificate chain is in reverse order: certificate {next} ({next_subject}) was          issued by certificate {index} ({subject}), which comes before it: order the PEM          blocks leaf first, then the CA that issued it, then that CA's issuer, and so on"
    )]
    ChainReversed {
        /// 1-based position of the issuer that comes too early.
        index: usize,
        /// Its subject DN.
        subject: String,
        /// `index + 1`, the certificate it issued.
        next: usize,
        /// Subject DN of certificate `index + 1`.
        next_subject: String,
    },

    /// Certificate `index` was not issued by any other certificate in the PEM.
    #[error(
        "the certificate chain is incomplete or out of order: certificate {index} ({subject}) \
         was issued by \"{issuer}\", but certificate {next} ({next_subject}) did not sign it \
         and neither did any other certificate in the PEM: add the missing CA certificate \
         right after certificate {index}, ordering the PEM leaf first, then each issuer"
    )]
    ChainIncomplete {
        /// 1-based position of the certificate whose issuer is missing.
        index: usize,
        /// Its subject DN.
        subject: String,
        /// Its issuer DN.
        issuer: String,
        /// `index + 1`.
        next: usize,
        /// Subject DN of certificate `index + 1`.
        next_subject: String,
    },

    /// An issuer's signature could not be checked because its algorithm/key
    /// combination is not supported.
    #[error(
        "the signature of {what} by {issuer} cannot be checked ({reason}): re-issue it with \
         SHA256/384/512withRSA (2048 to 8192-bit RSA) or ECDSA on P-256/P-384/P-521"
    )]
    UnverifiableSignature {
        /// E.g. `certificate 1 (CN=site1)` or `the CRL`.
        what: String,
        /// E.g. `certificate 2 (CN=Issuing CA)`.
        issuer: String,
        /// Why it cannot be verified.
        reason: String,
    },

    /// The private key field holds no key.
    #[error(
        "the private key PEM holds no private key: paste the key as a -----BEGIN PRIVATE \
         KEY-----, -----BEGIN RSA PRIVATE KEY-----, -----BEGIN EC PRIVATE KEY----- or \
         -----BEGIN ENCRYPTED PRIVATE KEY----- block"
    )]
    NoPrivateKey,

    /// More than one key block.
    #[error(
        "the private key PEM holds {count} private keys: paste only the one private key that \
         belongs to the leaf certificate"
    )]
    MultiplePrivateKeys {
        /// Number of key blocks found.
        count: usize,
    },

    /// A non-key block in the private key field.
    #[error(
        "PEM block {index} of the private key is a \"{tag}\" block: put certificates in the \
         certificate field and only the private key in the private_key field"
    )]
    UnexpectedKeyBlock {
        /// 1-based position of the block.
        index: usize,
        /// The PEM label.
        tag: String,
    },

    /// An encrypted key was given without a passphrase.
    #[error(
        "the private key is encrypted (ENCRYPTED PRIVATE KEY): supply its passphrase, or paste \
         an unencrypted key"
    )]
    PassphraseRequired,

    /// The passphrase does not decrypt the key.
    #[error(
        "the private key could not be decrypted: the passphrase is wrong; supply the \
         passphrase that was set when the key was exported"
    )]
    WrongPassphrase,

    /// The key is encrypted with a scheme that is not supported.
    #[error(
        "the private key is encrypted with an unsupported scheme ({detail}): re-encrypt it as \
         PKCS#8 PBES2 with AES, e.g. `openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem`, or \
         paste it unencrypted"
    )]
    UnsupportedKeyEncryption {
        /// What is unsupported.
        detail: String,
    },

    /// The key cannot be parsed or is of an unsupported kind.
    #[error(
        "the private key is not a valid or supported {format} key ({reason}): paste the \
         unmodified RSA (2048 to 8192 bits), EC (P-256/P-384/P-521) or Ed25519 private key"
    )]
    InvalidPrivateKey {
        /// `PKCS#8`, `PKCS#1 RSA`, `SEC1 EC`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The private key does not belong to the leaf certificate.
    #[error(
        "the private key does not belong to the certificate whose subject is \"{subject}\": \
         paste the private key that was generated together with that certificate's CSR, or \
         the certificate that was issued for this key"
    )]
    KeyMismatch {
        /// Subject DN of the leaf certificate.
        subject: String,
    },

    /// The CRL field holds no `X509 CRL` block.
    #[error("the PEM holds no CRL: paste the CRL as one -----BEGIN X509 CRL----- block")]
    NoCrl,

    /// More than one CRL block.
    #[error("the PEM holds {count} CRLs, but exactly one is accepted: import each CRL separately")]
    MultipleCrls {
        /// Number of CRL blocks.
        count: usize,
    },

    /// A non-CRL block in the CRL field.
    #[error(
        "PEM block {index} is a \"{tag}\" block, but only one X509 CRL block is accepted here: \
         remove it and paste only the -----BEGIN X509 CRL----- block"
    )]
    UnexpectedCrlBlock {
        /// 1-based position of the block.
        index: usize,
        /// The PEM label.
        tag: String,
    },

    /// The CRL block does not hold a valid CRL.
    #[error(
        "the CRL is not a valid X.509 CRL ({reason}): export it again in PEM format \
         (openssl crl -in crl.der -inform DER -outform PEM)"
    )]
    InvalidCrl {
        /// What is wrong.
        reason: String,
    },

    /// The CRL's issuer name differs from the CA certificate's subject.
    #[error(
        "the CRL was issued by \"{crl_issuer}\", not by the CA certificate \"{ca_subject}\": \
         import the CRL of that CA, or select the CA certificate that issued this CRL"
    )]
    CrlIssuerMismatch {
        /// Issuer DN of the CRL.
        crl_issuer: String,
        /// Subject DN of the certificate.
        ca_subject: String,
    },

    /// The CRL signature does not verify with the CA's key.
    #[error(
        "the CRL signature does not verify with the public key of \"{ca_subject}\": the CRL \
         was not signed by this CA (or was modified); download a fresh CRL from the CA"
    )]
    CrlSignatureInvalid {
        /// Subject DN of the certificate.
        ca_subject: String,
    },

    /// A distinguished name string could not be parsed.
    #[error(
        "\"{input}\" is not a valid distinguished name ({reason}): write it as comma-separated \
         TYPE=value pairs such as \"C=US, O=Org, CN=site1\", escaping , + \" \\ ; < > in \
         values with a backslash or quoting the value"
    )]
    InvalidDn {
        /// The input (shortened if very long).
        input: String,
        /// What is wrong.
        reason: String,
    },

    /// Signing with the site certificate's key failed or does not fit the scheme.
    #[error("cannot sign with the site certificate's key: {reason}")]
    Signing {
        /// What went wrong.
        reason: String,
    },

    /// A trusted CA or CRL of a local endpoint cannot be used.
    #[error("{name}: {reason}")]
    Trust {
        /// The object's name or path.
        name: String,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message must say what is wrong and, after a colon, what to do.
    #[test]
    fn every_message_says_what_to_change() {
        let s = || "some value".to_owned();
        let all = vec![
            PkiError::InputTooLarge {
                what: "certificate PEM",
                size: 2,
                max: 1,
            },
            PkiError::MalformedPem {
                what: "certificate PEM",
                detail: s(),
            },
            PkiError::NoCertificate,
            PkiError::UnexpectedPemBlock { index: 1, tag: s() },
            PkiError::PrivateKeyInCertificate { index: 1, tag: s() },
            PkiError::TooManyCertificates { count: 11, max: 10 },
            PkiError::InvalidCertificate {
                index: 1,
                reason: s(),
            },
            PkiError::DuplicateCertificate {
                index: 2,
                first: 1,
                subject: s(),
            },
            PkiError::WeakSignatureAlgorithm {
                what: s(),
                algorithm: s(),
            },
            PkiError::UnsupportedPublicKey {
                what: s(),
                reason: s(),
            },
            PkiError::ChainOutOfOrder {
                index: 1,
                subject: s(),
                issuer_index: 3,
                next: 2,
            },
            PkiError::ChainReversed {
                index: 1,
                subject: s(),
                next: 2,
                next_subject: s(),
            },
            PkiError::ChainIncomplete {
                index: 1,
                subject: s(),
                issuer: s(),
                next: 2,
                next_subject: s(),
            },
            PkiError::UnverifiableSignature {
                what: s(),
                issuer: s(),
                reason: s(),
            },
            PkiError::NoPrivateKey,
            PkiError::MultiplePrivateKeys { count: 2 },
            PkiError::UnexpectedKeyBlock { index: 1, tag: s() },
            PkiError::PassphraseRequired,
            PkiError::WrongPassphrase,
            PkiError::UnsupportedKeyEncryption { detail: s() },
            PkiError::InvalidPrivateKey {
                format: "PKCS#8",
                reason: s(),
            },
            PkiError::KeyMismatch { subject: s() },
            PkiError::NoCrl,
            PkiError::MultipleCrls { count: 2 },
            PkiError::UnexpectedCrlBlock { index: 1, tag: s() },
            PkiError::InvalidCrl { reason: s() },
            PkiError::CrlIssuerMismatch {
                crl_issuer: s(),
                ca_subject: s(),
            },
            PkiError::CrlSignatureInvalid { ca_subject: s() },
            PkiError::InvalidDn {
                input: s(),
                reason: s(),
            },
        ];
        for e in all {
            let msg = e.to_string();
            let (problem, remedy) = msg
                .split_once(": ")
                .unwrap_or_else(|| panic!("no remedy in {msg:?}"));
            assert!(problem.len() > 10 && remedy.len() > 10, "{msg}");
            assert!(!msg.contains('{'), "unformatted placeholder in {msg}");
        }
    }
}
