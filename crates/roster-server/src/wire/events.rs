//! Request bodies of newEvent, getCustomerEvents and getAttributeEvents.

use roster_domain::{
    Date, DateRange, EventTime, InputError, NewEvent, Page, PhoneRegion, event::check_event_data,
};
use roster_store::EventQuery;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{identity::IdentityFields, lenient, required};

/// newEvent.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewEventBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    /// Your system's id of the contact (or give `_id`, `email` or `phone`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub user_id: Option<String>,
    /// Your unique event id: re-sending it updates the event.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_type: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_date: Option<String>,
    #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub contact_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_name: Option<String>,
    /// `HH:MM AM/PM`, or 24-hour `HH:MM[:SS]`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = Option<lenient::schema::BooleanOrText>)]
    pub is_visit: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = Option<lenient::schema::BooleanOrText>)]
    pub is_purchase: Option<bool>,
    /// An object, or an array of objects; returned as sent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub event_data: Option<Value>,
    /// Where the event happened (Roster extension; `location_id` is accepted too).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub location_id: Option<String>,
}

impl NewEventBody {
    pub fn parse(self, region: PhoneRegion) -> Result<NewEvent, InputError> {
        let identity = IdentityFields {
            id: &self.contact_id,
            user_id: &self.user_id,
            email: &self.email,
            phone: &self.phone,
        }
        .for_write(region)?;
        Ok(NewEvent {
            identity,
            id: required("id", self.id)?,
            event_type: required("event_type", self.event_type)?,
            date: Date::parse("event_date", &required("event_date", self.event_date)?)?,
            time: self
                .event_time
                .map(|t| EventTime::parse("event_time", &t))
                .transpose()?,
            event_name: self.event_name,
            is_visit: self.is_visit.unwrap_or(false),
            is_purchase: self.is_purchase.unwrap_or(false),
            location: self.location.or(self.location_id),
            data: match self.event_data {
                Some(data) => check_event_data("event_data", data)?,
                None => None,
            },
        })
    }
}

/// getCustomerEvents.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CustomerEventsBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub contact_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_type: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub end_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub offset: Option<i64>,
}

impl CustomerEventsBody {
    /// `None` for the identity when it cannot name a contact (an empty list).
    pub fn parse(
        &self,
        region: PhoneRegion,
    ) -> Result<(Option<roster_domain::ContactIdentity>, EventQuery, Page), InputError> {
        let identity = IdentityFields {
            id: &self.contact_id,
            user_id: &self.user_id,
            email: &self.email,
            phone: &self.phone,
        }
        .for_read(region)?;
        let range = DateRange::parse(self.start_date.as_deref(), self.end_date.as_deref())?;
        let query = EventQuery {
            event_type: self.event_type.clone(),
            start_date: range.start,
            end_date: range.end,
        };
        Ok((identity, query, Page::parse(self.limit, self.offset)?))
    }
}

crate::wire::app_scoped!(NewEventBody, CustomerEventsBody);
