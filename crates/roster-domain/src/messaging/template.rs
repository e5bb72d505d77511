//! Message personalisation: `{{first_name}}`, `{{last_name}}`, other contact fields and
//! custom attributes. A placeholder that names nothing is the caller's mistake (a 400),
//! never a message that goes out with a hole or with the braces in it.

use crate::{Contact, InputError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    field: String,
    parts: Vec<Part>,
}

/// Contact fields a body may use, besides custom attributes.
const BUILT_IN: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone",
    "user_id",
    "city",
    "state",
    "zip",
    "address",
    "location",
];

impl Template {
    pub fn parse(field: &str, raw: &str) -> Result<Template, InputError> {
        let mut parts = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                InputError::new(field, format!("{field} has a {{{{ without a closing }}}}"))
            })?;
            let name = after[..close].trim();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(InputError::new(
                    field,
                    format!(
                        "{field} has a placeholder {{{{{}}}}} that is not a field name",
                        &after[..close]
                    ),
                ));
            }
            parts.push(Part::Field(name.to_string()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            field: field.to_string(),
            parts,
        })
    }

    /// The text as it is, when it has no placeholders.
    pub fn literal(&self) -> Option<String> {
        self.placeholders().next().is_none().then(|| {
            self.render_with(|_| Some(String::new()))
                .unwrap_or_default()
        })
    }

    /// Checks, before any contact is known, that every placeholder names a contact field
    /// or one of the app's custom attributes (a campaign is checked when it is created).
    pub fn check_names(
        &self,
        is_custom_attribute: impl Fn(&str) -> bool,
    ) -> Result<(), InputError> {
        match self
            .placeholders()
            .find(|name| !BUILT_IN.contains(name) && !is_custom_attribute(name))
        {
            Some(name) => Err(InputError::new(
                self.field.clone(),
                format!("{} uses an unknown placeholder {{{{{name}}}}}", self.field),
            )),
            None => Ok(()),
        }
    }

    /// The text as written (placeholders included), for storing.
    pub fn source(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Field(name) => format!("{{{{{name}}}}}"),
            })
            .collect()
    }

    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Field(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Fills the placeholders from `contact`. `is_custom_attribute` says whether a name the
    /// contact lacks is one of the app's custom attributes (then it renders empty).
    pub fn render(
        &self,
        contact: Option<&Contact>,
        is_custom_attribute: impl Fn(&str) -> bool,
    ) -> Result<String, InputError> {
        self.render_values(contact, is_custom_attribute, str::to_string)
    }

    fn render_values(
        &self,
        contact: Option<&Contact>,
        is_custom_attribute: impl Fn(&str) -> bool,
        shape: impl Fn(&str) -> String,
    ) -> Result<String, InputError> {
        if let Some(name) = self.placeholders().next()
            && contact.is_none()
        {
            return Err(InputError::new(
                "_id",
                format!(
                    "{} uses the placeholder {{{{{name}}}}}: give the contact's _id to fill it",
                    self.field
                ),
            ));
        }
        self.render_with(|name| {
            let contact = contact?;
            value_of(contact, name)
                .or_else(|| is_custom_attribute(name).then(String::new))
                .map(|value| shape(&value))
        })
    }

    /// [`Template::render`] for an HTML body: the values are escaped, so a contact's
    /// name can add text to an email but never markup or links.
    pub fn render_html(
        &self,
        contact: Option<&Contact>,
        is_custom_attribute: impl Fn(&str) -> bool,
    ) -> Result<String, InputError> {
        self.render_values(contact, is_custom_attribute, escape_html)
    }

    fn render_with(&self, value: impl Fn(&str) -> Option<String>) -> Result<String, InputError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(name) => out.push_str(&value(name).ok_or_else(|| {
                    InputError::new(
                        self.field.clone(),
                        format!("{} uses an unknown placeholder {{{{{name}}}}}", self.field),
                    )
                })?),
            }
        }
        Ok(out)
    }
}

/// HTML-escapes text for element content and quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn value_of(contact: &Contact, name: &str) -> Option<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let profile = &contact.profile;
    let built_in = match name {
        "first_name" => contact.first_name.clone(),
        "last_name" => contact.last_name.clone(),
        "email" => contact
            .email
            .as_ref()
            .map(|e| e.as_str().to_string())
            .unwrap_or_default(),
        "phone" => contact
            .phone
            .as_ref()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        "user_id" => text(&contact.user_id),
        "city" => text(&profile.city),
        "state" => text(&profile.state),
        "zip" => text(&profile.zip),
        "address" => text(&profile.address),
        "location" => text(&profile.location),
        _ => {
            return contact.custom.get(name).map(|value| match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            });
        }
    };
    debug_assert!(BUILT_IN.contains(&name));
    Some(built_in)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ContactId, ContactIdentity, Timestamp};

    fn contact() -> Contact {
        let mut contact = Contact::minimal(
            ContactId::from_trusted("0".repeat(24)),
            &ContactIdentity::default(),
            Timestamp::now(),
        );
        contact.first_name = "Ana".into();
        contact.last_name = "Lopez".into();
        contact
            .custom
            .insert("plan".into(), serde_json::json!("Gold"));
        contact
            .custom
            .insert("visits".into(), serde_json::json!(12));
        contact
    }

    #[test]
    fn fills_fields_and_custom_attributes() {
        let template = Template::parse(
            "message",
            "Hi {{first_name}} {{ last_name }}: {{plan}}, {{visits}} visits{{city}}",
        )
        .unwrap();
        let text = template.render(Some(&contact()), |_| false).unwrap();
        assert_eq!(text, "Hi Ana Lopez: Gold, 12 visits");
    }

    #[test]
    fn unknown_placeholders_are_errors() {
        let template = Template::parse("message", "Hi {{nickname}}").unwrap();
        let err = template.render(Some(&contact()), |_| false).unwrap_err();
        assert_eq!(err.field, "message");
        assert!(err.message.contains("{{nickname}}"), "{}", err.message);
        // An attribute of the app that this contact lacks renders empty.
        assert_eq!(
            template
                .render(Some(&contact()), |n| n == "nickname")
                .unwrap(),
            "Hi "
        );
    }

    #[test]
    fn html_bodies_escape_values_but_not_the_template() {
        let mut c = contact();
        c.last_name = "<a href=\"x\">Lopez</a>".into();
        let template = Template::parse("html", "<p>Hi {{last_name}}</p>").unwrap();
        assert_eq!(
            template.render_html(Some(&c), |_| false).unwrap(),
            "<p>Hi &lt;a href=&quot;x&quot;&gt;Lopez&lt;/a&gt;</p>"
        );
    }

    #[test]
    fn placeholders_need_a_contact() {
        let template = Template::parse("message", "Hi {{first_name}}").unwrap();
        assert_eq!(template.render(None, |_| true).unwrap_err().field, "_id");
        let plain = Template::parse("message", "Class at 6").unwrap();
        assert_eq!(plain.render(None, |_| false).unwrap(), "Class at 6");
        assert_eq!(plain.literal().as_deref(), Some("Class at 6"));
    }

    #[test]
    fn malformed_placeholders_are_errors() {
        assert!(Template::parse("message", "Hi {{first_name").is_err());
        assert!(Template::parse("message", "Hi {{}}").is_err());
        assert!(Template::parse("message", "Hi {{first name}}").is_err());
        assert!(Template::parse("message", "a } b { c").is_ok());
    }
}
