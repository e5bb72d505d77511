//! Roster's domain: values parsed once at the edge ("parse, don't validate") and the rules
//! that decide what a contact looks like after a write. Nothing here knows about HTTP or SQL.
//!
//! The contract these types implement is `shared/gleantap/api.md`.

pub mod app;
pub mod attributes;
pub mod contact;
pub mod dates;
pub mod email;
pub mod engagement;
pub mod error;
pub mod event;
pub mod ids;
pub mod messaging;
pub mod page;
pub mod phone;
pub mod studio;

pub use app::{ApiKey, AppCredentials, AppId, NewAppKeys, SecretHash};
pub use contact::{
    Consent, Contact, ContactFilter, ContactIdentity, NewContact, OptoutChannel, Profile, TagAction,
};
pub use dates::{CreatedDate, Date, DateRange, Timestamp};
pub use email::Email;
pub use error::InputError;
pub use event::{Event, EventTime, EventTypeSummary, NewEvent};
pub use ids::ContactId;
pub use page::Page;
pub use phone::{Phone, PhoneRegion};
pub use studio::{Class, Location, Membership, NewClass, NewLocation, NewMembership, Timezone};
