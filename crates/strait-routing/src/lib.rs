//! BGP over strait's VTIs, realized by BIRD 2 (see the crate description).
