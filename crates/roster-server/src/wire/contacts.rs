//! Request bodies of the contact endpoints (contract Part A and B) and their parsing.

use std::collections::BTreeMap;

use roster_domain::{
    ContactFilter, ContactId, CreatedDate, Date, Email, InputError, NewContact, OptoutChannel,
    Page, Phone, PhoneRegion, Profile, TagAction, attributes, contact::parse_tags,
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{lenient, required};

/// Fields of newContact's body that are never custom attributes: credentials sent in the
/// body by mistake must not end up stored on a contact.
const NOT_ATTRIBUTES: &[&str] = &["api_key", "secret_key"];
/// More custom attributes than this in one request is a mistake, not a contact.
const MAX_CUSTOM_ATTRIBUTES: usize = 200;

crate::wire::app_scoped!(
    NewContactBody,
    GetCustomersBody,
    ListBody,
    OptoutListBody,
    RemoveContactBody,
    MergeContactsBody,
    AppOnlyBody
);

/// newContact. Any field not listed here is a custom attribute of the contact.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewContactBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    /// Roster's contact id: update exactly this contact.
    #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub address: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub zip: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub user_id: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub dob: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS` (UTC)
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub created_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub gender: Option<String>,
    /// member, past, prospect...
    #[serde(rename = "type", default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub kind: Option<String>,
    /// active, inactive, non-member...
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = Option<lenient::schema::BooleanOrText>)]
    pub optin_sms: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = Option<lenient::schema::BooleanOrText>)]
    pub optout_email: Option<bool>,
    /// Comma-separated (an array of strings is accepted too).
    #[serde(default, deserialize_with = "lenient::tags")]
    #[schema(value_type = Option<lenient::schema::Tags>)]
    pub tags: Option<String>,
    /// `add` (default) or `remove`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub tag_action: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub custom: BTreeMap<String, Value>,
}

impl NewContactBody {
    pub fn parse(self, region: PhoneRegion) -> Result<NewContact, InputError> {
        let first_name = required("first_name", self.first_name)?;
        let last_name = required("last_name", self.last_name)?;
        let custom = custom_attributes(self.custom)?;
        Ok(NewContact {
            id: self.id.map(|id| ContactId::parse("_id", &id)).transpose()?,
            user_id: self.user_id,
            email: self.email.map(|e| Email::parse("email", &e)).transpose()?,
            phone: self
                .phone
                .map(|p| Phone::parse("phone", &p, region))
                .transpose()?,
            profile: Profile {
                address: self.address,
                city: self.city,
                state: self.state,
                zip: self.zip,
                source: self.source,
                dob: self.dob.map(|d| Date::parse("dob", &d)).transpose()?,
                gender: self.gender,
                kind: self.kind,
                status: self.status,
                location: self.location,
            },
            created_date: self
                .created_date
                .map(|d| CreatedDate::parse("created_date", &d))
                .transpose()?,
            optin_sms: self.optin_sms,
            optout_email: self.optout_email,
            tags: self
                .tags
                .as_deref()
                .map(|t| parse_tags("tags", t))
                .transpose()?
                .unwrap_or_default(),
            tag_action: parse_tag_action(self.tag_action.as_deref())?,
            first_name,
            last_name,
            custom,
        })
    }
}

fn parse_tag_action(raw: Option<&str>) -> Result<TagAction, InputError> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None | Some("add") => Ok(TagAction::Add),
        Some("remove") => Ok(TagAction::Remove),
        Some(_) => Err(InputError::new(
            "tag_action",
            "tag_action must be add or remove",
        )),
    }
}

fn custom_attributes(
    fields: BTreeMap<String, Value>,
) -> Result<BTreeMap<String, Value>, InputError> {
    let custom: BTreeMap<String, Value> = fields
        .into_iter()
        .filter(|(name, _)| !NOT_ATTRIBUTES.contains(&name.as_str()))
        .collect();
    if custom.len() > MAX_CUSTOM_ATTRIBUTES {
        return Err(InputError::new(
            "custom",
            format!("at most {MAX_CUSTOM_ATTRIBUTES} custom attributes per request"),
        ));
    }
    for (name, value) in &custom {
        attributes::check_custom(name, value)?;
    }
    Ok(custom)
}

/// getCustomers.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GetCustomersBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub phone: Option<String>,
    /// Only contacts with an event on or after this date (`YYYY-MM-DD`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub event_since_date: Option<String>,
    /// Only contacts changed on or after this date (`YYYY-MM-DD`).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub updated_since: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub offset: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = Option<lenient::schema::BooleanOrText>)]
    pub fulldata: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = Option<lenient::schema::BooleanOrText>)]
    pub events: Option<bool>,
}

/// A parsed getCustomers request.
pub struct CustomerQuery {
    /// `None` when the filters cannot match any contact (an `_id` that is no contact id).
    pub filter: Option<ContactFilter>,
    pub page: Page,
    pub fulldata: bool,
    pub events: bool,
}

impl GetCustomersBody {
    pub fn parse(self, region: PhoneRegion) -> Result<CustomerQuery, InputError> {
        let page = Page::parse(self.limit, self.offset)?;
        let filter = ContactFilter {
            // Contract: an unknown `_id` on a read is an empty list, not an error.
            id: None,
            user_id: self.user_id,
            email: self.email.map(|e| Email::parse("email", &e)).transpose()?,
            phone: self
                .phone
                .map(|p| Phone::parse("phone", &p, region))
                .transpose()?,
            updated_since: self
                .updated_since
                .map(|d| Date::parse("updated_since", &d))
                .transpose()?,
            event_since: self
                .event_since_date
                .map(|d| Date::parse("event_since_date", &d))
                .transpose()?,
        };
        let filter = match self.id {
            None => Some(filter),
            Some(raw) => ContactId::parse("_id", &raw).ok().map(|id| ContactFilter {
                id: Some(id),
                ..filter
            }),
        };
        Ok(CustomerQuery {
            filter,
            page,
            fulldata: self.fulldata.unwrap_or(false),
            events: self.events.unwrap_or(false),
        })
    }
}

/// A list endpoint with only `app_id`, `limit` and `offset` (getOptinCustomers).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ListBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub offset: Option<i64>,
}

impl ListBody {
    pub fn page(&self) -> Result<Page, InputError> {
        Page::parse(self.limit, self.offset)
    }
}

/// getOptoutCustomers.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OptoutListBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub offset: Option<i64>,
    /// `email` or `sms`; both when absent.
    #[serde(rename = "type", default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub kind: Option<String>,
}

impl OptoutListBody {
    pub fn parse(&self) -> Result<(Option<OptoutChannel>, Page), InputError> {
        let channel = match self.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("email") => Some(OptoutChannel::Email),
            Some("sms") => Some(OptoutChannel::Sms),
            Some(_) => return Err(InputError::new("type", "type must be email or sms")),
        };
        Ok((channel, Page::parse(self.limit, self.offset)?))
    }
}

/// removeContact.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RemoveContactBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    /// Roster's contact id.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
}

impl RemoveContactBody {
    pub fn contact_id(&self) -> Result<ContactId, InputError> {
        let raw = self
            .id
            .clone()
            .ok_or_else(|| InputError::new("id", "id is required"))?;
        ContactId::parse("id", &raw)
    }
}

/// mergeContacts: `from_contact` survives, `to_contact` is merged into it and deleted.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MergeContactsBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub from_contact: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub to_contact: Option<String>,
}

impl MergeContactsBody {
    /// (survivor, retired)
    pub fn parse(&self) -> Result<(ContactId, ContactId), InputError> {
        let id = |field: &str, raw: &Option<String>| {
            let raw = raw
                .clone()
                .ok_or_else(|| InputError::new(field, format!("{field} is required")))?;
            ContactId::parse(field, &raw)
        };
        Ok((
            id("from_contact", &self.from_contact)?,
            id("to_contact", &self.to_contact)?,
        ))
    }
}

/// An endpoint whose body is only `app_id` (getAttributes).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AppOnlyBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
}
