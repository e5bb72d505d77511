//! Contact queries and write paths, written once for every backend (see [`crate::conn`]).

pub mod identity;
pub mod reads;
pub mod writes;
