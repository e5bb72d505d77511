//! Messaging rules: what a message is, who may receive one (consent), how a body is
//! personalised, what an inbound keyword means and when a failed send is tried again.
//! Sending itself (providers, workers) lives in `roster-delivery`; storage in `roster-store`.

pub mod consent;
pub mod keyword;
pub mod message;
pub mod retry;
pub mod settings;
pub mod template;

pub use consent::{ConsentChange, ConsentSource, ConsentState, Recipients};
pub use keyword::{Keyword, KeywordReplies};
pub use message::{
    Channel, Claimed, Delivery, Direction, Lease, Message, MessageFilter, MessageStatus, Outgoing,
    ProviderStatus, Purpose,
};
pub use retry::RetrySchedule;
pub use settings::{MessagingSettings, SmtpTls};
pub use template::Template;
