//! Request bodies of newLocation, newClass, removeClass, getClassSchedule, addMemberships.

use roster_domain::{
    ContactIdentity, Date, DateRange, Email, EventTime, InputError, NewClass, NewLocation,
    NewMembership, Page, PhoneRegion, Timezone,
};
use roster_store::ScheduleQuery;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{identity::IdentityFields, lenient, required};

/// newLocation: upsert by your `id`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewLocationBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub name: Option<String>,
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
    pub country: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub email: Option<String>,
    /// An IANA name such as `America/Chicago`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub timezone: Option<String>,
}

impl NewLocationBody {
    pub fn parse(self) -> Result<NewLocation, InputError> {
        Ok(NewLocation {
            id: required("id", self.id)?,
            name: required("name", self.name)?,
            email: self.email.map(|e| Email::parse("email", &e)).transpose()?,
            timezone: self
                .timezone
                .map(|t| Timezone::parse("timezone", &t))
                .transpose()?,
            address: self.address,
            city: self.city,
            state: self.state,
            zip: self.zip,
            country: self.country,
            phone: self.phone,
        })
    }
}

/// newClass: upsert by your `id`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewClassBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub class_name: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub start_date: Option<String>,
    /// `HH:MM AM/PM` or 24-hour `HH:MM[:SS]`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub start_time: Option<String>,
    /// After `start_time`, same forms.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub end_time: Option<String>,
    /// Your id of a location created with newLocation.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub staff: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub capacity: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub description: Option<String>,
}

impl NewClassBody {
    pub fn parse(self) -> Result<NewClass, InputError> {
        let class = NewClass {
            id: required("id", self.id)?,
            class_name: required("class_name", self.class_name)?,
            start_date: Date::parse("start_date", &required("start_date", self.start_date)?)?,
            start_time: EventTime::parse("start_time", &required("start_time", self.start_time)?)?,
            end_time: self
                .end_time
                .map(|t| EventTime::parse("end_time", &t))
                .transpose()?,
            description: self.description,
            location_id: self.location_id,
            staff: self.staff,
            capacity: self.capacity,
        };
        class.check()?;
        Ok(class)
    }
}

/// removeClass.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RemoveClassBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
}

impl RemoveClassBody {
    pub fn class_id(&self) -> Result<String, InputError> {
        required("id", self.id.clone())
    }
}

/// getClassSchedule.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ScheduleBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub location_id: Option<String>,
    /// Classes starting on or after this date.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub start_date: Option<String>,
    /// Classes starting on or before this date.
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

impl ScheduleBody {
    pub fn parse(&self) -> Result<(ScheduleQuery, Page), InputError> {
        let range = DateRange::parse(self.start_date.as_deref(), self.end_date.as_deref())?;
        let query = ScheduleQuery {
            location_id: self.location_id.clone(),
            start_date: range.start,
            end_date: range.end,
        };
        Ok((query, Page::parse(self.limit, self.offset)?))
    }
}

/// One membership of addMemberships.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MembershipBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub start_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub end_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_number")]
    #[schema(value_type = Option<lenient::schema::NumberOrText>)]
    pub price: Option<serde_json::Number>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub location_id: Option<String>,
}

/// addMemberships.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddMembershipsBody {
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
    #[serde(default)]
    pub memberships: Option<Vec<MembershipBody>>,
}

/// More memberships than this in one request is a mistake, not a member.
const MAX_MEMBERSHIPS: usize = 500;

impl AddMembershipsBody {
    pub fn parse(
        self,
        region: PhoneRegion,
    ) -> Result<(ContactIdentity, Vec<NewMembership>), InputError> {
        let identity = IdentityFields {
            id: &self.contact_id,
            user_id: &self.user_id,
            email: &self.email,
            phone: &self.phone,
        }
        .for_write(region)?;
        let list = self
            .memberships
            .ok_or_else(|| InputError::new("memberships", "memberships is required"))?;
        if list.len() > MAX_MEMBERSHIPS {
            return Err(InputError::new(
                "memberships",
                format!("at most {MAX_MEMBERSHIPS} memberships per request"),
            ));
        }
        let memberships = list
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let field = format!("memberships[{i}]");
                let membership = NewMembership {
                    id: m.id.ok_or_else(|| {
                        InputError::new(format!("{field}.id"), format!("{field}.id is required"))
                    })?,
                    start_date: m
                        .start_date
                        .map(|d| Date::parse(&format!("{field}.start_date"), &d))
                        .transpose()?,
                    end_date: m
                        .end_date
                        .map(|d| Date::parse(&format!("{field}.end_date"), &d))
                        .transpose()?,
                    name: m.name,
                    status: m.status,
                    price: m.price,
                    location_id: m.location_id,
                };
                membership.check(&field)?;
                Ok(membership)
            })
            .collect::<Result<Vec<_>, InputError>>()?;
        Ok((identity, memberships))
    }
}

crate::wire::app_scoped!(
    NewLocationBody,
    NewClassBody,
    RemoveClassBody,
    ScheduleBody,
    AddMembershipsBody
);
