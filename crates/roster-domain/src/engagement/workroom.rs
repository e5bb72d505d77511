//! Workrooms: a studio's sub-units. A contact belongs to the workrooms of its location.

use crate::{InputError, Timestamp};

/// Most locations one workroom lists.
pub const MAX_LOCATIONS: usize = 500;

/// newWorkroom: upsert by the caller's `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkroom {
    pub id: String,
    pub name: String,
    /// The caller's location ids (newLocation `id`), each known to the app.
    pub location_ids: Vec<String>,
}

impl NewWorkroom {
    pub fn new(id: String, name: String, location_ids: Vec<String>) -> Result<Self, InputError> {
        if location_ids.len() > MAX_LOCATIONS {
            return Err(InputError::new(
                "location_ids",
                format!("location_ids holds at most {MAX_LOCATIONS} ids"),
            ));
        }
        let mut unique: Vec<String> = Vec::new();
        for id in location_ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        Ok(Self {
            id,
            name,
            location_ids: unique,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workroom {
    pub public_id: String,
    pub id: String,
    pub name: String,
    pub location_ids: Vec<String>,
    pub created_date: Timestamp,
}
