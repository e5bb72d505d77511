//! Messaging storage: app settings, the outbox (queue, claim with a lease, outcomes),
//! inbound messages and the consent history. The rules come from
//! `roster_domain::messaging`; this module only applies them inside transactions.

pub mod consent;
pub mod inbound;
pub mod outbox;
pub mod settings;

pub use consent::ConsentRecord;
pub use inbound::{Inbound, OptinRequest};
