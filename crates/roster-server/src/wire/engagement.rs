//! Bodies of newWorkroom, getWorkrooms, newForm, getForms, getFormSubmissions and
//! submitForm (Roster extensions, except the contract's get* reads).

use std::collections::BTreeMap;

use roster_domain::{
    Date, InputError, Page,
    engagement::{FieldType, Form, FormField, NewForm, NewWorkroom, Workroom},
};
use roster_store::StoredSubmission;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{app_scoped, lenient, required};

/// newWorkroom: upsert by your `id`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWorkroomBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub name: Option<String>,
    /// Your location ids (newLocation `id`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Option<lenient::schema::TextOrNumber>>>)]
    pub location_ids: Option<Vec<LocationId>>,
}

/// A location id: a string or a number.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct LocationId(#[serde(deserialize_with = "lenient::opt_string")] pub Option<String>);

impl NewWorkroomBody {
    pub fn parse(self) -> Result<NewWorkroom, InputError> {
        let ids = self
            .location_ids
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, id)| required(&format!("location_ids[{i}]"), id.0))
            .collect::<Result<Vec<_>, _>>()?;
        NewWorkroom::new(required("id", self.id)?, required("name", self.name)?, ids)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkroomMember {
    #[serde(rename = "_id")]
    pub public_id: String,
    /// Your id (Roster extension).
    pub id: String,
    pub name: String,
    pub location_ids: Vec<String>,
    pub created_date: String,
}

impl From<Workroom> for WorkroomMember {
    fn from(w: Workroom) -> Self {
        Self {
            public_id: w.public_id,
            id: w.id,
            name: w.name,
            location_ids: w.location_ids,
            created_date: w.created_date.to_rfc3339(),
        }
    }
}

/// One field of newForm.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FormFieldBody {
    /// `a-z`, `0-9`, `_`; `first_name`, `last_name`, and email/phone fields fill the contact.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub label: Option<String>,
    /// text, email, phone, date, number, select or checkbox.
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = Option<lenient::schema::BooleanOrText>)]
    pub required: Option<bool>,
    /// The choices of a select field.
    #[serde(default)]
    pub options: Option<Vec<String>>,
}

/// newForm: upsert by your `id`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewFormBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub name: Option<String>,
    #[serde(default)]
    pub fields: Option<Vec<FormFieldBody>>,
    /// A checkbox field whose tick opts the contact in to SMS.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub consent_field: Option<String>,
}

impl NewFormBody {
    pub fn parse(self) -> Result<NewForm, InputError> {
        let fields = self
            .fields
            .ok_or_else(|| InputError::new("fields", "fields is required"))?
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let at = |what: &str| format!("fields[{i}].{what}");
                let name = required(&at("name"), f.name)?;
                Ok(FormField {
                    label: f.label.unwrap_or_else(|| name.replace('_', " ")),
                    name,
                    kind: FieldType::parse(&at("type"), &required(&at("type"), f.kind)?)?,
                    required: f.required.unwrap_or(false),
                    // Browsers send an option's text trimmed, so it is kept trimmed.
                    options: f
                        .options
                        .unwrap_or_default()
                        .iter()
                        .map(|o| o.trim().to_string())
                        .collect(),
                })
            })
            .collect::<Result<Vec<_>, InputError>>()?;
        NewForm::new(
            required("id", self.id)?,
            required("name", self.name)?,
            fields,
            self.consent_field,
        )
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormFieldMember {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub required: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormMember {
    #[serde(rename = "_id")]
    pub public_id: String,
    /// Your id (Roster extension).
    pub id: String,
    pub name: String,
    pub fields: Vec<FormFieldMember>,
    pub submissions: u64,
    /// Where members fill the form in (Roster extension).
    pub url: String,
    pub created_date: String,
}

impl FormMember {
    pub fn new(form: Form, base: &str) -> Self {
        Self {
            url: format!("{base}/forms/{}", form.public_id),
            public_id: form.public_id,
            id: form.id,
            name: form.name,
            fields: form
                .fields
                .into_iter()
                .map(|f| FormFieldMember {
                    name: f.name,
                    label: f.label,
                    kind: f.kind.as_str(),
                    required: f.required,
                    options: f.options,
                })
                .collect(),
            submissions: form.submissions,
            created_date: form.created_date.to_rfc3339(),
        }
    }
}

/// getFormSubmissions.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubmissionsBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    /// The form's `_id` (or your id).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub form_id: Option<String>,
    /// Submitted on or after, `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub since_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    #[schema(value_type = Option<lenient::schema::IntegerOrText>)]
    pub offset: Option<i64>,
}

impl SubmissionsBody {
    pub fn parse(&self) -> Result<(String, Option<Date>, Page), InputError> {
        Ok((
            required("form_id", self.form_id.clone())?,
            self.since_date
                .as_deref()
                .map(|d| Date::parse("since_date", d))
                .transpose()?,
            Page::parse(self.limit, self.offset)?,
        ))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionMember {
    #[serde(rename = "_id")]
    pub public_id: String,
    pub form_id: String,
    pub contact_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: Value,
    pub submitted_date: String,
}

impl From<StoredSubmission> for SubmissionMember {
    fn from(s: StoredSubmission) -> Self {
        Self {
            public_id: s.public_id,
            form_id: s.form_id,
            contact_id: s.contact_id,
            data: s.data,
            submitted_date: s.submitted_date.to_rfc3339(),
        }
    }
}

/// submitForm (Roster extension): a submission from an integrator.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SubmitFormBody {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub app_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    #[schema(value_type = Option<lenient::schema::TextOrNumber>)]
    pub form_id: Option<String>,
    /// Field name to value (strings, numbers or booleans).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Option<BTreeMap<String, Value>>,
}

impl SubmitFormBody {
    /// The values as text, the way a page would send them.
    pub fn values(&self) -> Result<BTreeMap<String, String>, InputError> {
        let data = self
            .data
            .as_ref()
            .ok_or_else(|| InputError::new("data", "data is required"))?;
        data.iter()
            .map(|(name, value)| {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => String::new(),
                    _ => {
                        return Err(InputError::new(
                            format!("data.{name}"),
                            "a value is a string, a number or a boolean",
                        ));
                    }
                };
                Ok((name.clone(), text))
            })
            .collect()
    }
}

app_scoped!(
    NewWorkroomBody,
    NewFormBody,
    SubmissionsBody,
    SubmitFormBody
);
