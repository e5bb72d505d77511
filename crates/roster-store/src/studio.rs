//! Locations and classes: newLocation, getLocations, newClass, removeClass, getClassSchedule.

use roster_domain::{
    AppId, Class, Date, Email, EventTime, InputError, Location, NewClass, NewLocation, Page,
    Timestamp, Timezone, ids::new_object_id,
};

use crate::{
    StoreError, StoreResult,
    conn::{Arg, Conn, Filtered, args, page_args},
};

#[derive(sqlx::FromRow)]
struct LocationRow {
    public_id: String,
    id: String,
    name: String,
    address: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip: Option<String>,
    country: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    timezone: Option<String>,
    created_date: String,
    updated_date: String,
}

impl LocationRow {
    fn into_location(self) -> StoreResult<Location> {
        let corrupt = || StoreError::Corrupt(format!("dates of location {}", self.public_id));
        Ok(Location {
            created_date: Timestamp::parse_rfc3339(&self.created_date).ok_or_else(corrupt)?,
            updated_date: Timestamp::parse_rfc3339(&self.updated_date).ok_or_else(corrupt)?,
            public_id: self.public_id,
            fields: NewLocation {
                id: self.id,
                name: self.name,
                address: self.address,
                city: self.city,
                state: self.state,
                zip: self.zip,
                country: self.country,
                phone: self.phone,
                email: self.email.map(Email::from_trusted),
                timezone: self.timezone.map(Timezone::from_stored),
            },
        })
    }
}

/// newLocation: upsert by the caller's id; optional fields left out keep their values.
pub async fn upsert_location<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    l: &NewLocation,
) -> StoreResult<String> {
    let now = Timestamp::now();
    let row: Option<(String,)> = conn
        .fetch_optional(
            "INSERT INTO locations (app_id, public_id, id, name, address, city, state, zip, country,
                phone, email, timezone, created_date, updated_date)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
             ON CONFLICT (app_id, id) DO UPDATE SET name = excluded.name,
                address = COALESCE(excluded.address, locations.address),
                city = COALESCE(excluded.city, locations.city),
                state = COALESCE(excluded.state, locations.state),
                zip = COALESCE(excluded.zip, locations.zip),
                country = COALESCE(excluded.country, locations.country),
                phone = COALESCE(excluded.phone, locations.phone),
                email = COALESCE(excluded.email, locations.email),
                timezone = COALESCE(excluded.timezone, locations.timezone),
                updated_date = excluded.updated_date
             RETURNING public_id",
            args![
                app.as_str(),
                new_object_id(now.datetime()),
                l.id.as_str(),
                l.name.as_str(),
                l.address.clone(),
                l.city.clone(),
                l.state.clone(),
                l.zip.clone(),
                l.country.clone(),
                l.phone.clone(),
                l.email.as_ref().map(|e| e.as_str().to_string()),
                l.timezone.as_ref().map(|t| t.as_str().to_string()),
                now.to_rfc3339(),
            ],
        )
        .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| StoreError::Corrupt("upsert of a location returned nothing".into()))
}

pub async fn locations<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    page: Page,
) -> StoreResult<Vec<Location>> {
    let rows: Vec<LocationRow> = conn
        .fetch_all(
            "SELECT public_id, id, name, address, city, state, zip, country, phone, email, timezone,
                created_date, updated_date
             FROM locations WHERE app_id = $1 ORDER BY pk LIMIT $2 OFFSET $3",
            [args![app.as_str()], page_args(page).to_vec()].concat(),
        )
        .await?;
    rows.into_iter().map(LocationRow::into_location).collect()
}

#[derive(sqlx::FromRow)]
struct ClassRow {
    public_id: String,
    id: String,
    class_name: String,
    description: Option<String>,
    location_id: Option<String>,
    staff: Option<String>,
    start_date: String,
    start_time: String,
    start_clock: String,
    end_time: Option<String>,
    end_clock: Option<String>,
    capacity: Option<i64>,
    created_date: String,
}

impl ClassRow {
    fn into_class(self) -> StoreResult<Class> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("classes.{what} of {}", self.public_id));
        let end_time = match (self.end_time, self.end_clock) {
            (Some(sent), Some(clock)) => {
                Some(EventTime::from_stored(sent, &clock).ok_or_else(|| corrupt("end_time"))?)
            }
            _ => None,
        };
        Ok(Class {
            created_date: Timestamp::parse_rfc3339(&self.created_date)
                .ok_or_else(|| corrupt("created_date"))?,
            fields: NewClass {
                start_date: Date::parse("", &self.start_date).map_err(|_| corrupt("start_date"))?,
                start_time: EventTime::from_stored(self.start_time, &self.start_clock)
                    .ok_or_else(|| corrupt("start_time"))?,
                end_time,
                id: self.id,
                class_name: self.class_name,
                description: self.description,
                location_id: self.location_id,
                staff: self.staff,
                capacity: self.capacity,
            },
            public_id: self.public_id,
        })
    }
}

/// newClass: its `location_id` must name a location of the app; upsert by the caller's id.
pub async fn upsert_class<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    class: &NewClass,
) -> StoreResult<String> {
    if let Some(location) = &class.location_id {
        let known: Option<(i64,)> = conn
            .fetch_optional(
                "SELECT pk FROM locations WHERE app_id = $1 AND id = $2",
                args![app.as_str(), location.as_str()],
            )
            .await?;
        if known.is_none() {
            return Err(InputError::new("location_id", "no location has this location_id").into());
        }
    }
    let now = Timestamp::now();
    let row: Option<(String,)> = conn
        .fetch_optional(
            "INSERT INTO classes (app_id, public_id, id, class_name, description, location_id, staff,
                start_date, start_time, start_clock, end_time, end_clock, capacity, created_date, updated_date)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
             ON CONFLICT (app_id, id) DO UPDATE SET class_name = excluded.class_name,
                description = COALESCE(excluded.description, classes.description),
                location_id = COALESCE(excluded.location_id, classes.location_id),
                staff = COALESCE(excluded.staff, classes.staff),
                start_date = excluded.start_date, start_time = excluded.start_time,
                start_clock = excluded.start_clock, end_time = excluded.end_time,
                end_clock = excluded.end_clock,
                capacity = COALESCE(excluded.capacity, classes.capacity),
                updated_date = excluded.updated_date
             RETURNING public_id",
            args![
                app.as_str(),
                new_object_id(now.datetime()),
                class.id.as_str(),
                class.class_name.as_str(),
                class.description.clone(),
                class.location_id.clone(),
                class.staff.clone(),
                class.start_date.to_string(),
                class.start_time.as_sent(),
                class.start_time.hhmmss(),
                class.end_time.as_ref().map(|t| t.as_sent().to_string()),
                class.end_time.as_ref().map(EventTime::hhmmss),
                Arg::OptInt(class.capacity),
                now.to_rfc3339(),
            ],
        )
        .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| StoreError::Corrupt("upsert of a class returned nothing".into()))
}

pub async fn remove_class<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    id: &str,
) -> StoreResult<()> {
    let removed = conn
        .execute(
            "DELETE FROM classes WHERE app_id = $1 AND id = $2",
            args![app.as_str(), id],
        )
        .await?;
    if removed == 0 {
        return Err(InputError::new("id", "no class has this id").into());
    }
    Ok(())
}

/// getClassSchedule filters.
#[derive(Debug, Clone, Default)]
pub struct ScheduleQuery {
    pub location_id: Option<String>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}

pub async fn schedule<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    query: &ScheduleQuery,
    page: Page,
) -> StoreResult<Vec<Class>> {
    let mut filtered = Filtered::new(
        "SELECT public_id, id, class_name, description, location_id, staff, start_date, start_time,
            start_clock, end_time, end_clock, capacity, created_date
         FROM classes WHERE app_id = $1",
        args![app.as_str()],
    );
    if let Some(location) = &query.location_id {
        filtered.and(" AND location_id = $N", location.clone());
    }
    if let Some(start) = query.start_date {
        filtered.and(" AND start_date >= $N", start.to_string());
    }
    if let Some(end) = query.end_date {
        filtered.and(" AND start_date <= $N", end.to_string());
    }
    let (sql, args) = filtered.page("start_date, start_clock, pk", page);
    let rows: Vec<ClassRow> = conn.fetch_all(sql, args).await?;
    rows.into_iter().map(ClassRow::into_class).collect()
}
