//! The engagement layer a studio uses every day: workrooms (sub-units, usually a location
//! or brand) and forms (sign-ups, waivers, enquiries). Campaigns follow.

pub mod campaign;
pub mod form;
pub mod schedule;
pub mod workroom;

pub use campaign::{Audience, Campaign, CampaignStatus, NewCampaign, SkipReason};
pub use form::{
    FieldError, FieldType, Form, FormField, HONEYPOT_FIELD, NewForm, Submission, SubmittedContact,
};
pub use workroom::{NewWorkroom, Workroom};
