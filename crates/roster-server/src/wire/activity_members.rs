//! Response members for events, memberships, locations and classes.

use roster_domain::{Class, Event, EventTypeSummary, Location, Membership};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// An event (getCustomerEvents, and getCustomers' `events`, `visits`, `purchases`).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventMember {
    /// Roster's event id.
    #[serde(rename = "_id")]
    pub public_id: String,
    /// Your event id.
    pub id: String,
    pub event_type: String,
    pub event_name: Option<String>,
    pub event_date: String,
    /// As sent.
    pub event_time: Option<String>,
    pub is_visit: bool,
    pub is_purchase: bool,
    pub location: Option<String>,
    /// As sent: an object or an array of objects.
    #[schema(value_type = Option<Object>)]
    pub event_data: Option<Value>,
    pub created_date: String,
}

impl From<Event> for EventMember {
    fn from(e: Event) -> Self {
        Self {
            event_date: e.date.to_string(),
            event_time: e.time.map(|t| t.as_sent().to_string()),
            created_date: e.created_date.to_rfc3339(),
            public_id: e.public_id,
            id: e.id,
            event_type: e.event_type,
            event_name: e.event_name,
            is_visit: e.is_visit,
            is_purchase: e.is_purchase,
            location: e.location,
            event_data: e.data,
        }
    }
}

/// A getAttributeEvents member: one event type.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeMember {
    pub event_type: String,
    pub event_names: Vec<String>,
    /// `event_data` keys seen with this type.
    pub fields: Vec<String>,
    pub count: i64,
    pub first_date: String,
    pub last_date: String,
}

impl From<EventTypeSummary> for EventTypeMember {
    fn from(s: EventTypeSummary) -> Self {
        Self {
            first_date: s.first_date.to_string(),
            last_date: s.last_date.to_string(),
            event_type: s.event_type,
            event_names: s.event_names,
            fields: s.fields,
            count: s.count,
        }
    }
}

/// A membership, under getCustomers' `fulldata`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipMember {
    pub id: String,
    pub name: Option<String>,
    pub status: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub price: Option<serde_json::Number>,
    pub location_id: Option<String>,
    pub created_date: String,
    pub updated_date: String,
}

impl From<Membership> for MembershipMember {
    fn from(m: Membership) -> Self {
        let f = m.fields;
        Self {
            start_date: f.start_date.map(|d| d.to_string()),
            end_date: f.end_date.map(|d| d.to_string()),
            created_date: m.created_date.to_rfc3339(),
            updated_date: m.updated_date.to_rfc3339(),
            id: f.id,
            name: f.name,
            status: f.status,
            price: f.price,
            location_id: f.location_id,
        }
    }
}

/// A getLocations member.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocationMember {
    #[serde(rename = "_id")]
    pub public_id: String,
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    pub created_date: String,
    pub updated_date: String,
}

impl From<Location> for LocationMember {
    fn from(l: Location) -> Self {
        let f = l.fields;
        Self {
            public_id: l.public_id,
            created_date: l.created_date.to_rfc3339(),
            updated_date: l.updated_date.to_rfc3339(),
            email: f.email.map(|e| e.to_string()),
            timezone: f.timezone.map(|t| t.as_str().to_string()),
            id: f.id,
            name: f.name,
            address: f.address,
            city: f.city,
            state: f.state,
            zip: f.zip,
            country: f.country,
            phone: f.phone,
        }
    }
}

/// A getClassSchedule member.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClassMember {
    #[serde(rename = "_id")]
    pub public_id: String,
    pub id: String,
    pub class_name: String,
    pub description: Option<String>,
    pub location_id: Option<String>,
    pub staff: Option<String>,
    pub start_date: String,
    /// As sent.
    pub start_time: String,
    pub end_time: Option<String>,
    pub capacity: Option<i64>,
    pub created_date: String,
}

impl From<Class> for ClassMember {
    fn from(c: Class) -> Self {
        let f = c.fields;
        Self {
            public_id: c.public_id,
            created_date: c.created_date.to_rfc3339(),
            start_date: f.start_date.to_string(),
            start_time: f.start_time.as_sent().to_string(),
            end_time: f.end_time.map(|t| t.as_sent().to_string()),
            id: f.id,
            class_name: f.class_name,
            description: f.description,
            location_id: f.location_id,
            staff: f.staff,
            capacity: f.capacity,
        }
    }
}
