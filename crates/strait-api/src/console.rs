//! Paths reserved for the web console (served without authentication per the contract:
//! the shell and its static assets; everything they fetch needs a login).

/// Whether `path` belongs to the console shell or its assets.
pub fn is_console_path(path: &str) -> bool {
    path == "/" || path == "/login" || path.starts_with("/assets/")
}
