//! Forms: a definition (fields with types and rules) and what a submission must satisfy.
//! Validation collects every field's problem at once, so a page can show them all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Date, Email, InputError, Phone, PhoneRegion, Timestamp};

pub const MAX_FIELDS: usize = 50;
pub const MAX_OPTIONS: usize = 100;
/// Longest value of one submitted field, in characters.
pub const MAX_VALUE_LEN: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Text,
    Email,
    Phone,
    Date,
    Number,
    Select,
    Checkbox,
}

impl FieldType {
    pub const NAMES: &'static str = "text, email, phone, date, number, select, checkbox";

    pub fn parse(field: &str, raw: &str) -> Result<FieldType, InputError> {
        serde_json::from_value(serde_json::Value::String(raw.trim().to_lowercase()))
            .map_err(|_| InputError::new(field, format!("{field} must be one of {}", Self::NAMES)))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Date => "date",
            FieldType::Number => "number",
            FieldType::Select => "select",
            FieldType::Checkbox => "checkbox",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormField {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// newForm: upsert by the caller's `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewForm {
    pub id: String,
    pub name: String,
    pub fields: Vec<FormField>,
    /// A checkbox field whose tick opts the contact in to SMS.
    pub consent_field: Option<String>,
}

impl NewForm {
    /// Checks the definition as a whole: names well formed and unique, options where a
    /// select needs them, the consent field a checkbox of this form.
    pub fn new(
        id: String,
        name: String,
        fields: Vec<FormField>,
        consent_field: Option<String>,
    ) -> Result<Self, InputError> {
        if fields.is_empty() || fields.len() > MAX_FIELDS {
            return Err(InputError::new(
                "fields",
                format!("fields must hold 1 to {MAX_FIELDS} fields"),
            ));
        }
        for (i, f) in fields.iter().enumerate() {
            let at = |what: &str| format!("fields[{i}].{what}");
            let valid_name = !f.name.is_empty()
                && f.name.len() <= 64
                && f.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid_name {
                return Err(InputError::new(
                    at("name"),
                    "a field name is 1 to 64 characters of a-z, 0-9 and _",
                ));
            }
            if f.name == HONEYPOT_FIELD {
                return Err(InputError::new(
                    at("name"),
                    format!("{HONEYPOT_FIELD} is reserved"),
                ));
            }
            if fields[..i].iter().any(|g| g.name == f.name) {
                return Err(InputError::new(
                    at("name"),
                    format!("{} appears twice", f.name),
                ));
            }
            match f.kind {
                FieldType::Select if f.options.is_empty() || f.options.len() > MAX_OPTIONS => {
                    return Err(InputError::new(
                        at("options"),
                        format!("a select field needs 1 to {MAX_OPTIONS} options"),
                    ));
                }
                FieldType::Select => {}
                _ if !f.options.is_empty() => {
                    return Err(InputError::new(
                        at("options"),
                        "only select fields have options",
                    ));
                }
                _ => {}
            }
        }
        if let Some(consent) = &consent_field
            && !fields
                .iter()
                .any(|f| &f.name == consent && f.kind == FieldType::Checkbox)
        {
            return Err(InputError::new(
                "consent_field",
                "consent_field must name a checkbox field of this form",
            ));
        }
        Ok(Self {
            id,
            name,
            fields,
            consent_field,
        })
    }
}

/// The hidden field bots fill and people do not.
pub const HONEYPOT_FIELD: &str = "website";

#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub public_id: String,
    pub id: String,
    pub name: String,
    pub fields: Vec<FormField>,
    pub consent_field: Option<String>,
    pub submissions: u64,
    pub created_date: Timestamp,
}

/// One field's problem with a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What a valid submission says about its contact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubmittedContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// The form's consent checkbox was ticked.
    pub sms_optin: bool,
}

/// A validated submission: the values as stored, and the contact they describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub data: BTreeMap<String, serde_json::Value>,
    pub contact: SubmittedContact,
}

impl Form {
    /// Validates `values` (as a browser or an integrator sent them) against the fields.
    /// Unknown names are refused when `strict` (the JSON API), ignored otherwise (a page).
    pub fn validate(
        &self,
        values: &BTreeMap<String, String>,
        region: PhoneRegion,
        strict: bool,
    ) -> Result<Submission, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut data = BTreeMap::new();
        let mut contact = SubmittedContact::default();
        if strict {
            for name in values.keys() {
                if !self.fields.iter().any(|f| &f.name == name) {
                    errors.push(FieldError {
                        field: name.clone(),
                        message: format!("{name} is not a field of this form"),
                    });
                }
            }
        }
        for field in &self.fields {
            let raw = values.get(&field.name).map(|v| v.trim()).unwrap_or("");
            match check(field, raw, region) {
                Ok(Some(value)) => {
                    self.map_to_contact(field, &value, &mut contact);
                    data.insert(field.name.clone(), value);
                }
                Ok(None) if field.required => errors.push(FieldError {
                    field: field.name.clone(),
                    message: format!("{} is required", field.label),
                }),
                Ok(None) => {}
                Err(message) => errors.push(FieldError {
                    field: field.name.clone(),
                    message,
                }),
            }
        }
        if errors.is_empty() {
            Ok(Submission { data, contact })
        } else {
            Err(errors)
        }
    }

    fn map_to_contact(
        &self,
        field: &FormField,
        value: &serde_json::Value,
        contact: &mut SubmittedContact,
    ) {
        let text = value.as_str().map(str::to_string);
        match (field.name.as_str(), field.kind) {
            ("first_name", FieldType::Text) => contact.first_name = text,
            ("last_name", FieldType::Text) => contact.last_name = text,
            (_, FieldType::Email) if contact.email.is_none() => {
                contact.email = text.map(Email::from_trusted);
            }
            (_, FieldType::Phone) if contact.phone.is_none() => {
                contact.phone = text.map(Phone::from_trusted);
            }
            _ => {}
        }
        if self.consent_field.as_deref() == Some(field.name.as_str()) {
            contact.sms_optin = value == &serde_json::Value::Bool(true);
        }
    }
}

/// One value checked against its field: `Ok(None)` when blank (or an unticked box).
fn check(
    field: &FormField,
    raw: &str,
    region: PhoneRegion,
) -> Result<Option<serde_json::Value>, String> {
    use serde_json::Value;
    if raw.chars().count() > MAX_VALUE_LEN {
        return Err(format!(
            "{} is longer than {MAX_VALUE_LEN} characters",
            field.label
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!("{} contains control characters", field.label));
    }
    if field.kind == FieldType::Checkbox {
        return match raw.to_ascii_lowercase().as_str() {
            "" | "off" | "false" | "0" | "no" => Ok(None),
            "on" | "true" | "1" | "yes" => Ok(Some(Value::Bool(true))),
            _ => Err(format!("{} must be ticked or not", field.label)),
        };
    }
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = |what: &str| format!("{} must be {what}", field.label);
    let value = match field.kind {
        FieldType::Text => Value::String(raw.to_string()),
        FieldType::Email => Value::String(
            Email::parse(&field.name, raw)
                .map_err(|_| bad("an email address"))?
                .as_str()
                .to_string(),
        ),
        FieldType::Phone => Value::String(
            Phone::parse(&field.name, raw, region)
                .map_err(|_| bad("a phone number"))?
                .as_str()
                .to_string(),
        ),
        FieldType::Date => Value::String(
            Date::parse(&field.name, raw)
                .map_err(|_| bad("a date, YYYY-MM-DD"))?
                .to_string(),
        ),
        FieldType::Number => {
            let number: f64 = raw.parse().map_err(|_| bad("a number"))?;
            serde_json::Number::from_f64(number)
                .map(Value::Number)
                .ok_or_else(|| bad("a number"))?
        }
        FieldType::Select => {
            if !field.options.iter().any(|o| o == raw) {
                return Err(bad("one of the listed options"));
            }
            Value::String(raw.to_string())
        }
        FieldType::Checkbox => unreachable!("handled above"),
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, kind: FieldType, required: bool) -> FormField {
        FormField {
            name: name.into(),
            label: name.replace('_', " "),
            kind,
            required,
            options: if kind == FieldType::Select {
                vec!["Yoga".into(), "Spin".into()]
            } else {
                vec![]
            },
        }
    }

    fn form() -> Form {
        let new = NewForm::new(
            "signup".into(),
            "Sign up".into(),
            vec![
                field("first_name", FieldType::Text, true),
                field("email", FieldType::Email, true),
                field("phone", FieldType::Phone, false),
                field("class", FieldType::Select, false),
                field("age", FieldType::Number, false),
                field("sms_ok", FieldType::Checkbox, false),
            ],
            Some("sms_ok".into()),
        )
        .unwrap();
        Form {
            public_id: "f".into(),
            id: new.id,
            name: new.name,
            fields: new.fields,
            consent_field: new.consent_field,
            submissions: 0,
            created_date: Timestamp::now(),
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_valid_submission_describes_its_contact() {
        let ok = form()
            .validate(
                &values(&[
                    ("first_name", "Ana"),
                    ("email", "Ana@Example.com"),
                    ("phone", "(415) 555-2671"),
                    ("class", "Yoga"),
                    ("age", "31"),
                    ("sms_ok", "on"),
                ]),
                PhoneRegion::default(),
                true,
            )
            .unwrap();
        assert_eq!(ok.contact.first_name.as_deref(), Some("Ana"));
        assert_eq!(ok.contact.phone.as_ref().unwrap().as_str(), "+14155552671");
        assert!(ok.contact.sms_optin);
        assert_eq!(ok.data["age"], serde_json::json!(31.0));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = form()
            .validate(
                &values(&[
                    ("email", "nope"),
                    ("class", "Boxing"),
                    ("age", "old"),
                    ("extra", "x"),
                ]),
                PhoneRegion::default(),
                true,
            )
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["extra", "first_name", "email", "class", "age"]);
        let lenient = form().validate(
            &values(&[
                ("first_name", "A"),
                ("email", "a@example.com"),
                ("extra", "x"),
            ]),
            PhoneRegion::default(),
            false,
        );
        assert!(lenient.is_ok());
    }

    #[test]
    fn bad_definitions_are_refused() {
        let bad = |fields: Vec<FormField>, consent: Option<&str>| {
            NewForm::new("f".into(), "F".into(), fields, consent.map(String::from))
                .unwrap_err()
                .field
        };
        assert_eq!(bad(vec![], None), "fields");
        assert_eq!(
            bad(vec![field("Bad Name", FieldType::Text, false)], None),
            "fields[0].name"
        );
        assert_eq!(
            bad(
                vec![
                    field("a", FieldType::Text, false),
                    field("a", FieldType::Text, false)
                ],
                None
            ),
            "fields[1].name"
        );
        let mut select = field("s", FieldType::Select, false);
        select.options.clear();
        assert_eq!(bad(vec![select], None), "fields[0].options");
        assert_eq!(
            bad(vec![field("a", FieldType::Text, false)], Some("a")),
            "consent_field"
        );
        assert_eq!(
            bad(vec![field("website", FieldType::Text, false)], None),
            "fields[0].name"
        );
    }
}
