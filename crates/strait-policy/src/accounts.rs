//! Users, roles and authentication.
//!
//! Passwords are stored as argon2id PHC strings. Verifying argon2 on every Basic-auth
//! request would cost tens of milliseconds each, so a successful verification is cached
//! for a minute under a SHA-256 of the credentials (never the password itself); any user
//! change empties the cache. Repeated failures are throttled per (address, username) and per
//! address ([`crate::throttle`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use strait_model::enums::NsxEnum;
use strait_model::problems::{codes, Problems};
use strait_model::reader::ObjectReader;
use strait_store::{Store, StoredUser};
use zeroize::Zeroizing;

use crate::throttle::LoginThrottle;
use crate::tree::audit;
use crate::{now_ms, Actor, PolicyError, Role};

/// File holding a generated initial admin password.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";
/// Name of the user created on first start.
pub const INITIAL_ADMIN: &str = "admin";
/// Password length bounds for passwords set through the API.
pub const PASSWORD_CHARS: (usize, usize) = (8, 128);
pub use crate::throttle::{FAILURE_WINDOW, MAX_ADDRESS_FAILURES, MAX_FAILURES};
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 1024;

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// Login name.
    pub username: String,
    /// `admin` or `auditor`.
    pub role: Role,
    /// Epoch ms.
    pub _create_time: i64,
    /// Epoch ms.
    pub _last_modified_time: i64,
}

impl From<&StoredUser> for UserView {
    fn from(u: &StoredUser) -> Self {
        UserView {
            username: u.username.clone(),
            role: Role::parse(&u.role).unwrap_or(Role::Auditor),
            _create_time: u.create_time,
            _last_modified_time: u.last_modified_time,
        }
    }
}

/// What first start did about the initial admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialAdmin {
    /// Users existed already.
    Existing,
    /// Created with the password from the environment.
    FromEnvironment,
    /// Created with a generated password written to this file.
    Generated(PathBuf),
}

/// The user directory.
pub struct Accounts {
    store: Arc<Store>,
    cache: Mutex<HashMap<[u8; 32], (Role, Instant)>>,
    failures: Mutex<LoginThrottle>,
}

fn hash_password(password: &str) -> Result<String, PolicyError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut raw = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| {
            PolicyError::invalid(
                "password",
                codes::FIELD,
                "the system random generator failed",
            )
        })?;
    let salt = SaltString::encode_b64(&raw).map_err(|e| {
        PolicyError::invalid(
            "password",
            codes::FIELD,
            format!("cannot hash this password: {e}"),
        )
    })?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            PolicyError::invalid(
                "password",
                codes::FIELD,
                format!("cannot hash this password: {e}"),
            )
        })
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn credential_key(user: &str, password: &str) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"strait-credential-cache\0");
    ctx.update(user.as_bytes());
    ctx.update(b"\0");
    ctx.update(password.as_bytes());
    let d = ctx.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Check a username: 1-64 characters, letters, digits, `.`, `_`, `-`, starting with a letter or digit.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a valid username; use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            strait_model::reader::truncate(name, 64)
        ))
    }
}

fn check_password(p: &mut Problems, field: &str, password: &str, username: &str) {
    let n = password.chars().count();
    if n < PASSWORD_CHARS.0 || n > PASSWORD_CHARS.1 {
        p.field(
            field,
            format!(
                "the password has {n} characters; use {} to {}",
                PASSWORD_CHARS.0, PASSWORD_CHARS.1
            ),
        );
    } else if password == username {
        p.field(field, "the password must differ from the username");
    } else if password.chars().any(char::is_control) {
        p.field(
            field,
            "the password contains a control character; use printable characters",
        );
    }
}

impl Accounts {
    pub(crate) fn new(store: Arc<Store>) -> Accounts {
        Accounts {
            store,
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(LoginThrottle::default()),
        }
    }

    fn forget_cache(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// First start: create `admin` if there are no users. The password comes from
    /// `env_password` or is generated into `dir/initial-admin-password` (mode 0600).
    pub fn ensure_initial_admin(
        &self,
        dir: &Path,
        env_password: Option<Zeroizing<String>>,
    ) -> Result<InitialAdmin, PolicyError> {
        let has_users = self.store.read(|tx| tx.count_users())? > 0;
        if has_users {
            return Ok(InitialAdmin::Existing);
        }
        let (password, generated) = match env_password.filter(|p| !p.is_empty()) {
            Some(p) => (p, false),
            None => (generate_password()?, true),
        };
        let hash = hash_password(&password)?;
        let file = dir.join(INITIAL_PASSWORD_FILE);
        if generated {
            write_private_file(&file, password.as_bytes())?;
        }
        let now = now_ms();
        self.store.write(|tx| -> Result<(), PolicyError> {
            if tx.count_users()? == 0 {
                tx.put_user(&StoredUser {
                    username: INITIAL_ADMIN.into(),
                    role: Role::Admin.as_str().into(),
                    password_hash: hash,
                    create_time: now,
                    last_modified_time: now,
                })?;
                audit(
                    tx,
                    &Actor::system(),
                    "CREATE_USER",
                    "/api/v1/users/admin",
                    None,
                    "success (first start)",
                )?;
            }
            Ok(())
        })?;
        Ok(if generated {
            InitialAdmin::Generated(file)
        } else {
            InitialAdmin::FromEnvironment
        })
    }

    /// Check credentials; returns the actor. `source` (the client's address) scopes the
    /// failed-login throttle, so that nobody can lock a user out from elsewhere.
    pub fn authenticate(
        &self,
        username: &str,
        password: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<Actor, PolicyError> {
        // The throttle comes first, before even the cache of verified credentials: a
        // throttled guesser must not learn that a guess is right because its owner logged
        // in a moment ago.
        if let Err(t) = self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .check(source, username, Instant::now())
        {
            return Err(PolicyError::Unauthenticated(t.message(username)));
        }
        let key = credential_key(username, password);
        if let Some((role, at)) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            if at.elapsed() < CACHE_TTL {
                return Ok(Actor {
                    user: username.to_owned(),
                    role: *role,
                });
            }
        }
        let denied =
            || PolicyError::Unauthenticated("the username or password is incorrect".into());
        let user = self.store.read(|tx| tx.user(username))?;
        let ok = match &user {
            Some(u) => verify_password(password, &u.password_hash),
            None => {
                // Spend the same time as a real check so timing does not reveal which
                // usernames exist.
                let _ = verify_password(password, DUMMY_HASH);
                false
            }
        };
        if !ok {
            self.failures
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record_failure(source, username, Instant::now());
            return Err(denied());
        }
        let user = user.ok_or_else(denied)?;
        let role = Role::parse(&user.role).unwrap_or(Role::Auditor);
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record_success(source, username);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, (role, Instant::now()));
        Ok(Actor {
            user: user.username,
            role,
        })
    }

    /// Every user.
    pub fn list(&self) -> Result<Vec<UserView>, PolicyError> {
        Ok(self
            .store
            .read(|tx| tx.users())?
            .iter()
            .map(UserView::from)
            .collect())
    }

    /// One user.
    pub fn get(&self, username: &str) -> Result<UserView, PolicyError> {
        self.store
            .read(|tx| tx.user(username))?
            .map(|u| UserView::from(&u))
            .ok_or_else(|| PolicyError::NotFound {
                noun: "user",
                path: username.to_owned(),
            })
    }

    /// Create or update a user from `{"role", "password", "old_password"}`.
    ///
    /// Admins may create users and change anyone's role and password; changing one's own
    /// password needs `old_password`. Auditors may only change their own password.
    pub fn put(
        &self,
        actor: &Actor,
        username: &str,
        body: &Value,
    ) -> Result<UserView, PolicyError> {
        check_username(username).map_err(|m| PolicyError::invalid("username", codes::FIELD, m))?;
        let mut p = Problems::new();
        let mut r = ObjectReader::new(body, "", "User", &mut p)
            .ok_or_else(|| PolicyError::from_problems("user", p.clone()))?;
        if let Some(n) = r.string(&mut p, "username", 64) {
            if n != username {
                p.field(
                    "username",
                    format!(
                        "the body names user {n:?} but the URL names {username:?}; make them equal"
                    ),
                );
            }
        }
        let role: Option<Role> = r.enumeration(&mut p, "role");
        let password = r.string(&mut p, "password", 1024).map(Zeroizing::new);
        let old_password = r.string(&mut p, "old_password", 1024).map(Zeroizing::new);
        r.ignore(&["_create_time", "_last_modified_time"]);
        r.finish(&mut p);
        if let Some(pw) = &password {
            check_password(&mut p, "password", pw, username);
        }
        if !p.is_empty() {
            return Err(PolicyError::from_problems(&format!("user {username}"), p));
        }
        let is_self = actor.user == username;
        if !actor.is_admin() && !is_self {
            return Err(PolicyError::Forbidden(format!(
                "user {} (role auditor) may change only their own password",
                actor.user
            )));
        }
        let existing = self.store.read(|tx| tx.user(username))?;
        if is_self && password.is_some() {
            let ok = match (&existing, &old_password) {
                (Some(u), Some(old)) => verify_password(old, &u.password_hash),
                _ => false,
            };
            if !ok {
                return Err(PolicyError::invalid(
                    "old_password",
                    codes::FIELD,
                    if old_password.is_none() {
                        "to change your own password, also send old_password with your current password"
                    } else {
                        "old_password is not your current password"
                    },
                ));
            }
        }
        if !actor.is_admin()
            && role.is_some_and(|r| existing.as_ref().is_none_or(|u| u.role != r.as_str()))
        {
            return Err(PolicyError::Forbidden(
                "only an admin can change roles".into(),
            ));
        }
        if existing.is_none() {
            let mut p = Problems::new();
            if password.is_none() {
                p.field("password", "is required for a new user");
            }
            if role.is_none() {
                p.field("role", "is required for a new user: admin or auditor");
            }
            if !p.is_empty() {
                return Err(PolicyError::from_problems(
                    &format!("new user {username}"),
                    p,
                ));
            }
        }
        let hash = password.as_deref().map(|p| hash_password(p)).transpose()?;
        let now = now_ms();
        let view = self.store.write(|tx| -> Result<UserView, PolicyError> {
            let current = tx.user(username)?;
            let new_role = role.map(|r| r.as_str().to_owned());
            if let (Some(cur), Some(nr)) = (&current, &new_role) {
                if cur.role == Role::Admin.as_str()
                    && nr != Role::Admin.as_str()
                    && tx.count_users_with_role(Role::Admin.as_str())? <= 1
                {
                    return Err(PolicyError::invalid(
                        "role",
                        codes::CONFLICT,
                        format!("{username} is the last admin; make another user admin before changing this one's role"),
                    ));
                }
            }
            let user = StoredUser {
                username: username.to_owned(),
                role: new_role.or_else(|| current.as_ref().map(|c| c.role.clone())).unwrap_or_default(),
                password_hash: hash.clone().or_else(|| current.as_ref().map(|c| c.password_hash.clone())).unwrap_or_default(),
                create_time: current.as_ref().map_or(now, |c| c.create_time),
                last_modified_time: now,
            };
            tx.put_user(&user)?;
            audit(tx, actor, "PUT", &format!("/api/v1/users/{username}"), None, "success")?;
            Ok(UserView::from(&user))
        })?;
        self.forget_cache();
        if username == INITIAL_ADMIN && password.is_some() {
            let _ = std::fs::remove_file(self.store.dir().join(INITIAL_PASSWORD_FILE));
        }
        Ok(view)
    }

    /// Delete a user (admins only; never the last admin). Returns whether it existed.
    pub fn delete(&self, actor: &Actor, username: &str) -> Result<bool, PolicyError> {
        if !actor.is_admin() {
            return Err(PolicyError::Forbidden(format!(
                "user {} (role auditor) cannot delete users",
                actor.user
            )));
        }
        let existed = self.store.write(|tx| -> Result<bool, PolicyError> {
            let Some(u) = tx.user(username)? else { return Ok(false) };
            if u.role == Role::Admin.as_str() && tx.count_users_with_role(Role::Admin.as_str())? <= 1 {
                return Err(PolicyError::invalid(
                    "",
                    codes::CONFLICT,
                    format!("{username} is the last admin and cannot be deleted; create another admin first"),
                ));
            }
            tx.delete_user(username)?;
            audit(tx, actor, "DELETE", &format!("/api/v1/users/{username}"), None, "success")?;
            Ok(true)
        })?;
        self.forget_cache();
        Ok(existed)
    }
}

/// An argon2id hash of a random password, used to equalize timing for unknown users.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RyYWl0LWR1bW15LXNhbHQ$Zs4XHHdVd3Ckqa8Ua7VoUvKUa3P+GnVqUv2VSlI3oUY";

fn generate_password() -> Result<Zeroizing<String>, PolicyError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = Zeroizing::new([0u8; 18]);
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut *bytes)
        .map_err(|_| PolicyError::Unauthenticated("the system random generator failed".into()))?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(*bytes),
    ))
}

fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), PolicyError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let io = |source| strait_store::StoreError::Io {
        what: "cannot write",
        path: path.to_owned(),
        source,
    };
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(contents).map_err(io)?;
    f.write_all(b"\n").map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("x", DUMMY_HASH));
    }

    #[test]
    fn usernames() {
        assert!(check_username("admin").is_ok());
        assert!(check_username("ops.team-1").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("-x").is_err());
        assert!(check_username("a b").is_err());
    }
}
