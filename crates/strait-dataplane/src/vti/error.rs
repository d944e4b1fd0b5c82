//! Why a VTI operation failed, in the operator's terms: what failed and what to do.

use std::io;

use libc::{EACCES, EAFNOSUPPORT, EBUSY, EEXIST, EINVAL, ENETDOWN, ENODEV, ENOENT, ENXIO, EPERM};

/// Why a VTI operation failed. Every message says what failed and what to do about it.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum VtiError {
    /// The configuration or argument cannot be applied as given.
    #[error("invalid VTI configuration for {name:?}: {reason}")]
    InvalidConfig {
        /// The interface.
        name: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// The kernel has no TUN support loaded.
    #[error(
        "cannot create TUN device {name}: /dev/net/tun is missing: load the tun module \
         (modprobe tun) or build the kernel with CONFIG_TUN"
    )]
    TunMissing {
        /// The interface.
        name: String,
        /// What opening the device returned.
        #[source]
        source: io::Error,
    },
    /// No privilege for TUN devices or netlink changes.
    #[error("cannot {action}: permission denied: straitd needs root or CAP_NET_ADMIN")]
    PermissionDenied {
        /// What was being done.
        action: String,
        /// What the kernel returned.
        #[source]
        source: io::Error,
    },
    /// Another kind of interface already has the name.
    #[error(
        "cannot create TUN device {name}: an interface of that name exists and is {kind}, not a \
         TUN device, so strait will not delete it: rename or delete it (ip link del {name})"
    )]
    NameTaken {
        /// The interface.
        name: String,
        /// Its link kind (`veth`, `dummy`, `a physical device`, ...).
        kind: String,
    },
    /// Creating the TUN device or one of its queues failed.
    #[error("cannot create TUN device {name}: {source}{hint}", hint = tun_hint(source))]
    Tun {
        /// The interface.
        name: String,
        /// What tun-rs / the kernel returned.
        #[source]
        source: io::Error,
    },
    /// The interface disappeared (deleted by someone else).
    #[error(
        "cannot {action}: interface {interface} no longer exists (deleted outside strait?): \
         recreate the session's VTI"
    )]
    NoSuchInterface {
        /// What was being done.
        action: String,
        /// Its name or index.
        interface: String,
    },
    /// A netlink request failed.
    #[error("cannot {action}: {source}{hint}", hint = netlink_hint(source, action))]
    Netlink {
        /// What was being done.
        action: String,
        /// The kernel's errno as an I/O error.
        #[source]
        source: io::Error,
    },
    /// No netlink socket could be opened, or the connection broke.
    #[error("cannot {action}: netlink socket: {source}")]
    NetlinkSocket {
        /// What was being done.
        action: String,
        /// The socket error.
        #[source]
        source: io::Error,
    },
}

impl VtiError {
    /// The errno behind the error, if the kernel returned one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            VtiError::TunMissing { source, .. }
            | VtiError::PermissionDenied { source, .. }
            | VtiError::Tun { source, .. }
            | VtiError::Netlink { source, .. }
            | VtiError::NetlinkSocket { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

fn tun_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(EBUSY) => {
            ": a TUN device of that name is in use by another process: stop it or delete the \
             device"
        }
        Some(EINVAL) => {
            ": the kernel refused the name or flags (an existing device with other flags?): \
             delete the device or choose another name"
        }
        _ => "",
    }
}

fn netlink_hint(e: &io::Error, action: &str) -> &'static str {
    match e.raw_os_error() {
        Some(EACCES) if action.contains("IPv6") => {
            ": IPv6 is disabled on this interface: enable it (sysctl \
             net.ipv6.conf.all.disable_ipv6=0 and net.ipv6.conf.default.disable_ipv6=0) or \
             remove the IPv6 address"
        }
        Some(ENETDOWN) => ": the interface is down: bring it up (it is normally up)",
        Some(EAFNOSUPPORT) => ": the kernel has no IPv6: boot without ipv6.disable=1",
        Some(EINVAL) if action.contains("MTU") => {
            ": the kernel refused the MTU: use a value between 68 and 65535 (1280 or more with \
             IPv6)"
        }
        Some(EEXIST) => ": it already exists with other settings: remove it first",
        _ => "",
    }
}

/// Map a netlink error (rtnetlink) to a [`VtiError`].
pub(super) fn nl_error(action: impl Into<String>, e: rtnetlink::Error) -> VtiError {
    let action = action.into();
    match e {
        rtnetlink::Error::NetlinkError(msg) => errno_error(action, msg.raw_code().abs()),
        rtnetlink::Error::RequestFailed => VtiError::NetlinkSocket {
            action,
            source: io::Error::other("the netlink connection closed"),
        },
        other => VtiError::NetlinkSocket {
            action,
            source: io::Error::other(other.to_string()),
        },
    }
}

pub(super) fn errno_error(action: String, errno: i32) -> VtiError {
    let source = io::Error::from_raw_os_error(errno);
    match errno {
        EPERM => VtiError::PermissionDenied { action, source },
        _ => VtiError::Netlink { action, source },
    }
}

pub(super) fn tun_error(name: &str, source: io::Error) -> VtiError {
    let name = name.to_owned();
    match source.raw_os_error() {
        Some(ENOENT | ENODEV | ENXIO) => VtiError::TunMissing { name, source },
        Some(EPERM | EACCES) => VtiError::PermissionDenied {
            action: format!("create TUN device {name}"),
            source,
        },
        _ => VtiError::Tun { name, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_say_what_to_do() {
        let e = tun_error("st-abc", io::Error::from_raw_os_error(ENODEV));
        assert_eq!(
            e.to_string(),
            "cannot create TUN device st-abc: /dev/net/tun is missing: load the tun module \
             (modprobe tun) or build the kernel with CONFIG_TUN"
        );
        let e = tun_error("st-abc", io::Error::from_raw_os_error(EPERM));
        assert!(e
            .to_string()
            .ends_with("permission denied: straitd needs root or CAP_NET_ADMIN"));
        let e = errno_error("add IPv6 address fd00::1/64 to st0".into(), EACCES);
        assert!(e.to_string().contains("IPv6 is disabled"), "{e}");
        assert_eq!(e.errno(), Some(EACCES));
    }
}
