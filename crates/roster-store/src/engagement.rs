//! Workrooms, forms and form submissions.

use std::collections::HashMap;

use roster_domain::{
    AppId, ContactId, ContactIdentity, Date, InputError, NewContact, Page, Profile, TagAction,
    Timestamp,
    engagement::{Form, FormField, NewForm, NewWorkroom, Submission, Workroom},
    ids::new_object_id,
    messaging::ConsentSource,
};

use crate::{
    StoreError, StoreResult,
    conn::{Conn, Filtered, args, page_args},
    contacts::{
        identity::{self, Purpose},
        writes,
    },
};

pub async fn upsert_workroom<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    workroom: &NewWorkroom,
) -> StoreResult<String> {
    for (i, location) in workroom.location_ids.iter().enumerate() {
        let known: Option<(String,)> = conn
            .fetch_optional(
                "SELECT id FROM locations WHERE app_id = $1 AND id = $2",
                args![app.as_str(), location.as_str()],
            )
            .await?;
        if known.is_none() {
            return Err(InputError::new(
                format!("location_ids[{i}]"),
                format!("no location has the id {location:?} (create it with newLocation)"),
            )
            .into());
        }
    }
    let now = Timestamp::now();
    let row: Option<(i64, String)> = conn
        .fetch_optional(
            "INSERT INTO workrooms (app_id, public_id, id, name, created_date, updated_date)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (app_id, id) DO UPDATE SET name = excluded.name,
                updated_date = excluded.updated_date
             RETURNING pk, public_id",
            args![
                app.as_str(),
                new_object_id(now.datetime()),
                workroom.id.as_str(),
                workroom.name.as_str(),
                now.to_rfc3339()
            ],
        )
        .await?;
    let (pk, public_id) =
        row.ok_or_else(|| StoreError::Corrupt("workroom upsert returned nothing".into()))?;
    conn.execute(
        "DELETE FROM workroom_locations WHERE workroom_pk = $1",
        args![pk],
    )
    .await?;
    for location in &workroom.location_ids {
        conn.execute(
            "INSERT INTO workroom_locations (workroom_pk, location_id) VALUES ($1, $2)",
            args![pk, location.as_str()],
        )
        .await?;
    }
    Ok(public_id)
}

#[derive(sqlx::FromRow)]
struct WorkroomRow {
    pk: i64,
    public_id: String,
    id: String,
    name: String,
    created_date: String,
}

pub async fn workrooms<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    page: Page,
) -> StoreResult<Vec<Workroom>> {
    let mut values = args![app.as_str()];
    values.extend(page_args(page));
    let rows: Vec<WorkroomRow> = conn
        .fetch_all(
            "SELECT pk, public_id, id, name, created_date FROM workrooms
             WHERE app_id = $1 ORDER BY pk LIMIT $2 OFFSET $3",
            values,
        )
        .await?;
    let mut locations: HashMap<i64, Vec<String>> = HashMap::new();
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let links: Vec<(i64, String)> = conn
            .fetch_all(
                "SELECT wl.workroom_pk, wl.location_id FROM workroom_locations wl
                 JOIN workrooms w ON w.pk = wl.workroom_pk
                 WHERE w.app_id = $1 AND wl.workroom_pk BETWEEN $2 AND $3
                 ORDER BY wl.workroom_pk, wl.location_id",
                args![app.as_str(), first.pk, last.pk],
            )
            .await?;
        for (pk, location) in links {
            locations.entry(pk).or_default().push(location);
        }
    }
    rows.into_iter()
        .map(|row| {
            Ok(Workroom {
                created_date: timestamp(&row.created_date, "workrooms.created_date")?,
                location_ids: locations.remove(&row.pk).unwrap_or_default(),
                public_id: row.public_id,
                id: row.id,
                name: row.name,
            })
        })
        .collect()
}

pub async fn upsert_form<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    form: &NewForm,
) -> StoreResult<String> {
    let now = Timestamp::now();
    let fields = serde_json::to_string(&form.fields)
        .map_err(|err| StoreError::Corrupt(format!("form fields: {err}")))?;
    let row: Option<(String,)> = conn
        .fetch_optional(
            "INSERT INTO forms (app_id, public_id, id, name, fields, consent_field, created_date,
                updated_date)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (app_id, id) DO UPDATE SET name = excluded.name,
                fields = excluded.fields, consent_field = excluded.consent_field,
                updated_date = excluded.updated_date
             RETURNING public_id",
            args![
                app.as_str(),
                new_object_id(now.datetime()),
                form.id.as_str(),
                form.name.as_str(),
                fields,
                form.consent_field.clone(),
                now.to_rfc3339()
            ],
        )
        .await?;
    row.map(|(id,)| id)
        .ok_or_else(|| StoreError::Corrupt("form upsert returned nothing".into()))
}

#[derive(sqlx::FromRow)]
struct FormRow {
    app_id: String,
    public_id: String,
    id: String,
    name: String,
    fields: String,
    consent_field: Option<String>,
    created_date: String,
    submissions: i64,
}

const FORM_COLUMNS: &str = "f.app_id, f.public_id, f.id, f.name, f.fields, f.consent_field,
    f.created_date,
    (SELECT COUNT(*) FROM form_submissions s WHERE s.form_pk = f.pk) AS submissions";

impl FormRow {
    fn into_form(self) -> StoreResult<(AppId, Form)> {
        let fields: Vec<FormField> = serde_json::from_str(&self.fields)
            .map_err(|err| StoreError::Corrupt(format!("forms.fields of {}: {err}", self.id)))?;
        Ok((
            AppId::new(self.app_id),
            Form {
                created_date: timestamp(&self.created_date, "forms.created_date")?,
                submissions: u64::try_from(self.submissions).unwrap_or(0),
                public_id: self.public_id,
                id: self.id,
                name: self.name,
                fields,
                consent_field: self.consent_field,
            },
        ))
    }
}

pub async fn forms<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    page: Page,
) -> StoreResult<Vec<Form>> {
    let mut values = args![app.as_str()];
    values.extend(page_args(page));
    let sql = format!(
        "SELECT {FORM_COLUMNS} FROM forms f WHERE f.app_id = $1 ORDER BY f.pk LIMIT $2 OFFSET $3"
    );
    let rows: Vec<FormRow> = conn.fetch_all(sql, values).await?;
    rows.into_iter()
        .map(|row| row.into_form().map(|(_, form)| form))
        .collect()
}

/// A form by its public `_id` (the hosted page has no keys: the id names the app too).
pub async fn form_by_public_id<C: Conn + ?Sized>(
    conn: &mut C,
    public_id: &str,
) -> StoreResult<Option<(AppId, Form)>> {
    let sql = format!("SELECT {FORM_COLUMNS} FROM forms f WHERE f.public_id = $1");
    let row: Option<FormRow> = conn.fetch_optional(sql, args![public_id]).await?;
    row.map(FormRow::into_form).transpose()
}

/// Stores a valid submission: creates or updates its contact by email or phone (opting
/// it in to SMS when the consent box was ticked and a phone given), in one transaction.
/// Returns the submission's `_id`.
pub async fn submit<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    form: &Form,
    submission: &Submission,
    trust: Trust,
) -> StoreResult<(String, Option<ContactId>)> {
    let now = Timestamp::now();
    let form_pk: Option<(i64,)> = conn
        .fetch_optional(
            "SELECT pk FROM forms WHERE app_id = $1 AND public_id = $2",
            args![app.as_str(), form.public_id.as_str()],
        )
        .await?;
    let (form_pk,) = form_pk.ok_or_else(|| StoreError::NotFound("no such form".into()))?;
    let contact = save_contact(conn, app, form, submission, trust).await?;
    let contact_pk = match &contact {
        Some(id) => identity::pk_of(conn, app, id).await?,
        None => None,
    };
    let data = serde_json::to_string(&submission.data)
        .map_err(|err| StoreError::Corrupt(format!("submission: {err}")))?;
    let public_id = new_object_id(now.datetime());
    conn.execute(
        "INSERT INTO form_submissions (app_id, public_id, form_pk, contact_pk, data, submitted_date)
         VALUES ($1, $2, $3, $4, $5, $6)",
        vec![
            app.as_str().into(),
            public_id.as_str().into(),
            form_pk.into(),
            crate::conn::Arg::OptInt(contact_pk),
            data.into(),
            now.to_rfc3339().into(),
        ],
    )
    .await?;
    Ok((public_id, contact))
}

/// Who vouches for a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// The app's own integration (`submitForm`, with its keys): a submission updates the
    /// contact as newContact does, and the consent box opts the number in.
    App,
    /// Anyone on the public page: a submission creates a contact or fills its empty
    /// fields but never changes what is there (a stranger must not redirect a member's
    /// messages or undo their STOP); consent goes through double opt-in.
    Public,
}

/// The contact a submission describes, by the identity rules; `None` without email or
/// phone (the submission is kept without a contact).
async fn save_contact<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    form: &Form,
    submission: &Submission,
    trust: Trust,
) -> StoreResult<Option<ContactId>> {
    let given = &submission.contact;
    if given.email.is_none() && given.phone.is_none() {
        return Ok(None);
    }
    let identity = ContactIdentity {
        id: None,
        user_id: None,
        first_name: given.first_name.clone(),
        email: given.email.clone(),
        phone: given.phone.clone(),
    };
    conn.lock_keys(&mut identity::lock_keys(app, &identity))
        .await?;
    let existing = identity::resolve(conn, app, &identity, Purpose::Write).await?;
    // What the submission may set: everything when the app vouches; else only what is
    // still empty.
    let may_set = |stored_is_empty: bool| trust == Trust::App || stored_is_empty;
    let text = |stored: &str, given: &Option<String>| match given {
        Some(value) if may_set(stored.is_empty()) => value.clone(),
        _ => stored.to_string(),
    };
    let request = match &existing {
        Some(stored) => {
            let c = &stored.contact;
            NewContact {
                id: Some(c.id.clone()),
                first_name: text(&c.first_name, &given.first_name),
                last_name: text(&c.last_name, &given.last_name),
                email: given.email.clone().filter(|_| may_set(c.email.is_none())),
                phone: given.phone.clone().filter(|_| may_set(c.phone.is_none())),
                ..submitted_contact(form, submission, trust)
            }
        }
        None => NewContact {
            first_name: given.first_name.clone().unwrap_or_default(),
            last_name: given.last_name.clone().unwrap_or_default(),
            email: given.email.clone(),
            phone: given.phone.clone(),
            ..submitted_contact(form, submission, trust)
        },
    };
    let id = writes::upsert_from(conn, app, &request, ConsentSource::Form).await?;
    Ok(Some(id))
}

/// The parts of the contact write that do not depend on an existing contact.
fn submitted_contact(form: &Form, submission: &Submission, trust: Trust) -> NewContact {
    let given = &submission.contact;
    NewContact {
        id: None,
        user_id: None,
        first_name: String::new(),
        last_name: String::new(),
        email: None,
        phone: None,
        profile: Profile {
            // A public submission leaves an existing contact's source alone.
            source: (trust == Trust::App).then(|| format!("form:{}", form.id)),
            ..Profile::default()
        },
        created_date: None,
        optin_sms: (trust == Trust::App && given.sms_optin && given.phone.is_some())
            .then_some(true),
        optout_email: None,
        tags: Vec::new(),
        tag_action: TagAction::Add,
        custom: Default::default(),
    }
}

#[derive(sqlx::FromRow)]
struct SubmissionRow {
    public_id: String,
    form_id: String,
    contact_id: Option<String>,
    data: String,
    submitted_date: String,
}

/// A stored submission (getFormSubmissions).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSubmission {
    pub public_id: String,
    pub form_id: String,
    pub contact_id: Option<String>,
    pub data: serde_json::Value,
    pub submitted_date: Timestamp,
}

/// A form's submissions, oldest first; `form_id` is the form's `_id` or the caller's id.
pub async fn submissions<C: Conn + ?Sized>(
    conn: &mut C,
    app: &AppId,
    form_id: &str,
    since: Option<Date>,
    page: Page,
) -> StoreResult<Vec<StoredSubmission>> {
    let mut query = Filtered::new(
        "SELECT s.public_id, f.public_id AS form_id, c.id AS contact_id, s.data, s.submitted_date
         FROM form_submissions s JOIN forms f ON f.pk = s.form_pk
         LEFT JOIN contacts c ON c.pk = s.contact_pk
         WHERE s.app_id = $1 AND (f.public_id = $2 OR f.id = $2)",
        args![app.as_str(), form_id],
    );
    if let Some(since) = since {
        query.and(
            " AND s.submitted_date >= $N",
            since.start_of_day().to_rfc3339(),
        );
    }
    let (sql, values) = query.page("s.pk", page);
    let rows: Vec<SubmissionRow> = conn.fetch_all(sql, values).await?;
    rows.into_iter()
        .map(|row| {
            Ok(StoredSubmission {
                data: serde_json::from_str(&row.data).map_err(|err| {
                    StoreError::Corrupt(format!(
                        "form_submissions.data of {}: {err}",
                        row.public_id
                    ))
                })?,
                submitted_date: timestamp(&row.submitted_date, "form_submissions.submitted_date")?,
                public_id: row.public_id,
                form_id: row.form_id,
                contact_id: row.contact_id,
            })
        })
        .collect()
}

fn timestamp(raw: &str, what: &str) -> StoreResult<Timestamp> {
    Timestamp::parse_rfc3339(raw).ok_or_else(|| StoreError::Corrupt(format!("{what} {raw:?}")))
}
